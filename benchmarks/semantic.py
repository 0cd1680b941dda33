"""Semantic search: recall on a labelled query set, latency at scale, throughput, size.

1. Recall@10 (conversation level) for keyword (archiver/search.py, FTS5 BM25), semantic
   (embeddings) and hybrid (reciprocal-rank fusion of the two), on synthetic conversations
   written here: 40 labelled ones among 2,000 distractors on other subjects. 30 queries say
   the thing in other words than the conversation (paraphrase); 10 name a rare exact term
   (an error code, a product name) as people also search.
2. Embedding throughput (messages/s) and archive growth per embedded message.
3. p50/p95 latency of a semantic and a hybrid search over N messages (default 1,000,000):
   synthetic messages, really embedded, in a real archive; the first search (index load)
   is reported apart.

    /work/venv/bin/python benchmarks/semantic.py [--messages 1000000] [--json]

The archive goes to a fresh temporary directory (deleted afterwards); TMPDIR chooses the disk.
"""

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from archiver.db import open_db, prepare_capture, save_capture, search_index_paused, write_transaction
from archiver.semantic import embed_pending, hybrid_search

# (the conversation: question, answer) -> query in other words
PARAPHRASE = [
    (("My car makes a knocking sound when I accelerate up hills.",
      "That is often engine pre-ignition; try higher octane fuel and check the spark plugs."), "vehicle motor noise"),
    (("Why are the leaves on my tomato plants turning yellow?",
      "Yellowing foliage usually means the soil lacks nitrogen or the roots sit in water."),
     "vegetable garden foliage discoloured"),
    (("How should I start putting money aside for retirement?",
      "Open a pension account and invest a fixed share of each salary in index funds."), "saving for old age"),
    (("I keep waking up at 3am and cannot fall asleep again.",
      "Keep a regular bedtime, avoid caffeine after noon and dim screens in the evening."), "insomnia at night"),
    (("My dog barks every time someone walks past the window.",
      "Reward calm behaviour, block the view and teach a quiet command with treats."), "puppy noisy with strangers"),
    (("What should I pack for a week of camping in the mountains?",
      "Bring a warm sleeping bag, a tent rated for wind, layers and a water filter."), "hiking trip gear list"),
    (("How do I get rid of mould in the bathroom?",
      "Scrub the grout with diluted bleach, ventilate after showers and run a dehumidifier."), "fungus on shower tiles"),
    (("My laptop battery drains really fast.",
      "Lower the screen brightness, close background apps and check the battery health report."),
     "notebook computer power lasts short"),
    (("What is a good way to learn Spanish quickly?",
      "Practise daily with spaced repetition flashcards and speak with a tutor twice a week."),
     "acquire a foreign language fast"),
    (("How many calories should I eat to lose weight?",
      "Aim for a deficit of about 500 kcal per day below your maintenance intake."), "diet for slimming down"),
    (("The kitchen sink drains very slowly.",
      "Pour baking soda and vinegar, then use a plunger or a drain snake to clear the clog."), "blocked pipe under basin"),
    (("How do I ask my boss for a raise?",
      "Collect evidence of your results, research market pay and book a dedicated meeting."),
     "negotiating a higher salary at work"),
    (("My toddler refuses to eat vegetables.",
      "Offer small portions repeatedly, eat them yourself in front of the child and avoid pressure."),
     "picky small kid dinner greens"),
    (("What is the best way to store fresh herbs?",
      "Wrap basil stems in a damp towel and keep parsley upright in a glass of water in the fridge."),
     "keeping basil and parsley from wilting"),
    (("How can I make my home office less noisy?",
      "Add a thick rug, acoustic panels and heavy curtains to absorb the echo."), "soundproofing a workspace room"),
    (("My knees hurt after running.",
      "Shorten your stride, replace worn shoes and strengthen the quadriceps and hips."), "jogging joint pain"),
    (("How do I remove a red wine stain from a carpet?",
      "Blot it at once, pour cold water and dish soap, then dab with hydrogen peroxide."), "spilled merlot on the rug"),
    (("What houseplants survive in a dark apartment?",
      "Snake plants, pothos and ZZ plants tolerate low light and irregular watering."), "indoor greenery for little sunlight"),
    (("Tips for a first job interview?",
      "Research the company, prepare stories about your achievements and ask thoughtful questions."),
     "preparing to meet a hiring manager"),
    (("How do I keep my bike chain from rusting?",
      "Wipe it after wet rides and apply a light lubricant every few hundred kilometres."), "bicycle corrosion care"),
    (("My sourdough bread comes out dense and flat.",
      "Let the starter peak before mixing and give the dough a longer bulk fermentation."), "heavy loaf that did not rise"),
    (("How should I prepare for a marathon?",
      "Build weekly mileage slowly over sixteen weeks with one long run each weekend."), "training plan for a long race"),
    (("What can I do about a stiff neck from working at a desk?",
      "Raise the monitor to eye level, take breaks every half hour and stretch your shoulders."),
     "computer posture soreness"),
    (("How do I make my cat stop scratching the sofa?",
      "Put a tall scratching post next to the sofa and cover the arms with double-sided tape."),
     "kitten damaging furniture with claws"),
    (("How do I reduce my electricity bill in winter?",
      "Seal drafts around windows, lower the thermostat a degree and use a heat pump."), "cutting heating energy costs"),
    (("What is the best way to clean a cast iron pan?",
      "Rinse with hot water, scrub with coarse salt, dry on the stove and oil it lightly."),
     "caring for a skillet without soap"),
    (("My phone screen cracked, is it worth repairing?",
      "If the device is under two years old a display replacement is usually cheaper than a new handset."),
     "broken smartphone glass fix cost"),
    (("How do I plan a budget for a wedding?",
      "List the guest count first, then split the total between venue, catering and photography."),
     "marriage ceremony expenses planning"),
    (("How do I stop procrastinating on my thesis?",
      "Work in focused 25 minute blocks, set daily page goals and switch off notifications."),
     "avoiding delays writing a dissertation"),
    (("What should I do if my basement floods?",
      "Switch off the power, pump out the water and dry the walls with fans within two days."),
     "water in the cellar after a storm"),
]
# Rare exact terms: a person remembers the code or the name, not the wording.
EXACT = [
    (("My dishwasher shows error E24 and stops.", "E24 means the drain pump is blocked; clean the filter."), "E24"),
    (("Set up the Zorblat 3000 router for me.", "Log in to the Zorblat admin page and enable WPA3."), "Zorblat"),
    (("Explain the Kessler syndrome.", "It is a cascade of collisions between satellites in low orbit."), "Kessler"),
    (("What does HTTP status 418 mean?", "It is a joke status: I am a teapot."), "418 teapot"),
    (("How do I use pandas pivot_table?", "Call df.pivot_table(index=..., columns=..., values=...)."), "pivot_table"),
    (("Who was Ada Lovelace?", "She wrote the first published algorithm for Babbage's engine."), "Lovelace"),
    (("Fix ORA-00942 in my query.", "ORA-00942 means the table or view does not exist or is not granted."), "ORA-00942"),
    (("What is the Mpemba effect?", "Hot water can sometimes freeze faster than cold water."), "Mpemba"),
    (("Translate the word Schadenfreude.", "Pleasure taken in someone else's misfortune."), "Schadenfreude"),
    (("Configure nginx proxy_pass for my app.", "Add a location block with proxy_pass to the upstream."), "proxy_pass"),
]
SUBJECTS = ("Kubernetes pods", "French grammar", "watercolor painting", "chess openings", "tax forms",
            "jazz chords", "Python decorators", "Roman history", "bird migration", "knitting patterns",
            "SQL joins", "volcano formation", "coffee roasting", "guitar tuning", "climate models",
            "Excel formulas", "bee keeping", "medieval castles", "quantum spin", "poetry meter",
            "React hooks", "ocean tides", "cheese making", "film lighting", "graph theory",
            "solar panels", "opera singing", "pottery glazes", "rust lifetimes", "stock options")
ASPECTS = ("basics", "common mistakes", "history", "best practices", "a quick summary", "advanced tricks",
           "how it works", "pros and cons", "a beginner exercise", "the key terms")


def conversation(cid, question, answer, t):
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": ["q"]},
               "q": {"id": "q", "parent": "root", "children": ["a"], "message": {
                   "id": "q", "author": {"role": "user"}, "create_time": t, "status": "finished_successfully",
                   "content": {"content_type": "text", "parts": [question]}, "metadata": {}}},
               "a": {"id": "a", "parent": "q", "children": [], "message": {
                   "id": "a", "author": {"role": "assistant"}, "create_time": t + 1,
                   "status": "finished_successfully", "content": {"content_type": "text", "parts": [answer]},
                   "metadata": {"model_slug": "gpt-4o"}}}}
    return {"id": cid, "title": question[:40], "create_time": t, "update_time": t + 1, "mapping": mapping,
            "current_node": "a"}


def recall(db_dir, distractors):
    db = open_db(db_dir / "recall.db")
    rng = random.Random(7)
    labelled = [(f"label-{i}", conv, query, kind) for i, (conv, query, kind) in enumerate(
        [(c, q, "paraphrase") for c, q in PARAPHRASE] + [(c, q, "exact") for c, q in EXACT])]
    with write_transaction(db) as conn:
        for i in range(distractors):
            subject, aspect = rng.choice(SUBJECTS), rng.choice(ASPECTS)
            question = f"Can you give me {aspect} about {subject}?"
            answer = f"Here is {aspect} on {subject}: " + " ".join(rng.choices(subject.split() + list(ASPECTS), k=20))
            save_capture(conn, prepare_capture(json.dumps(conversation(f"d-{i}", question, answer, 1e9 + i)).encode()),
                         source="bench")
        for cid, (question, answer), _, _ in labelled:
            save_capture(conn, prepare_capture(json.dumps(conversation(cid, question, answer, 1.5e9)).encode()),
                         source="bench")
    embed_pending(db)
    out = {}
    for mode in ("keyword", "semantic", "hybrid"):
        hits = {"paraphrase": [], "exact": []}
        for cid, _, query, kind in labelled:
            found = hybrid_search(db.conn, query, mode=mode, limit=10)
            hits[kind].append(cid in [c["conversation_id"] for c in found["conversations"]])
        out[mode] = {kind: round(sum(v) / len(v), 3) for kind, v in hits.items()}
        out[mode]["all"] = round(sum(hits["paraphrase"] + hits["exact"]) / len(labelled), 3)
    db.close()
    return out


def scale(db_dir, messages):
    """N synthetic messages, embedded; throughput, size and latency."""
    path = db_dir / "scale.db"
    db = open_db(path)
    rng = random.Random(11)
    words = [w for subject in SUBJECTS for w in subject.lower().split()] + \
        "the a of to and in is for that with how why what when please explain show me".split()
    per_conversation = 20
    started = time.perf_counter()
    with search_index_paused(db.conn):
        for start in range(0, messages, 50_000):
            rows_c, rows_m = [], []
            for n in range(start, min(messages, start + 50_000)):
                cid = f"s-{n // per_conversation}"
                if n % per_conversation == 0:
                    rows_c.append((cid, f"Synthetic {n // per_conversation}", 1e9 + n, 1e9 + n))
                text = " ".join(rng.choices(words, k=rng.randint(8, 60)))
                rows_m.append((f"m-{n}", cid, f"m-{n}", "user" if n % 2 == 0 else "assistant", text, 1e9 + n))
            with write_transaction(db) as conn:
                conn.executemany("INSERT INTO chatgpt_conversation (id, title, create_time, update_time)"
                                 " VALUES (?, ?, ?, ?)", rows_c)
                conn.executemany("INSERT INTO chatgpt_message (id, conversation_id, node_id, author_role, text,"
                                 " create_time, is_hidden, is_current, content_type) VALUES (?, ?, ?, ?, ?, ?, 0, 1,"
                                 " 'text')", rows_m)
    loaded = time.perf_counter() - started
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.stat().st_size
    started = time.perf_counter()
    embedded = embed_pending(db, batch=2048)
    embed_seconds = time.perf_counter() - started
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = path.stat().st_size
    queries = [q for _, q in PARAPHRASE] + ["python decorators examples", "tax forms history", "ocean tides basics"]
    timings = {}
    for mode in ("semantic", "hybrid", "keyword"):
        started = time.perf_counter()
        hybrid_search(db.conn, queries[0], mode=mode)  # first: loads the in-memory index
        first = time.perf_counter() - started
        samples = []
        for _ in range(3):
            for q in queries:
                started = time.perf_counter()
                hybrid_search(db.conn, q, mode=mode, limit=10)
                samples.append(time.perf_counter() - started)
        samples.sort()
        timings[mode] = {"first_ms": round(first * 1000, 1),
                         "p50_ms": round(statistics.median(samples) * 1000, 1),
                         "p95_ms": round(samples[int(len(samples) * 0.95) - 1] * 1000, 1)}
    db.close()
    return {
        "messages": messages, "load_seconds": round(loaded, 1),
        "embedded": embedded, "embed_seconds": round(embed_seconds, 1),
        "embed_per_second": round(embedded / embed_seconds),
        "archive_bytes_before": before, "archive_bytes_after": after,
        "bytes_per_embedding": round((after - before) / max(embedded, 1)),
        "latency": timings,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--distractors", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="archiver-semantic-") as tmp:
        result = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "recall_at_10": recall(Path(tmp), args.distractors),
            "scale": scale(Path(tmp), args.messages),
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"Recall@10 ({len(PARAPHRASE)} paraphrased + {len(EXACT)} exact-term queries, "
          f"{args.distractors:,} distractor conversations)")
    print(f"{'mode':<10} {'paraphrase':>11} {'exact term':>11} {'all':>6}")
    for mode, r in result["recall_at_10"].items():
        print(f"{mode:<10} {r['paraphrase']:>11.2f} {r['exact']:>11.2f} {r['all']:>6.2f}")
    s = result["scale"]
    print(f"\n{s['messages']:,} messages: embedded {s['embedded']:,} in {s['embed_seconds']} s "
          f"({s['embed_per_second']:,}/s); archive {s['archive_bytes_before'] / 1e6:,.0f} MB -> "
          f"{s['archive_bytes_after'] / 1e6:,.0f} MB ({s['bytes_per_embedding']} bytes per message)")
    for mode, t in s["latency"].items():
        print(f"{mode:<10} first {t['first_ms']} ms, p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms")


if __name__ == "__main__":
    main()
