"""A synthetic sample archive, so a newcomer sees every page populated without a ChatGPT
account: ``chatgpt-archiver sample`` writes an official-export-shaped zip and imports it
through the one import path. Every title, message, id and picture here is invented; the
shapes follow the format reference, like the test fixtures.

Dates are relative to ``now``, so the conversation list shows Today, Yesterday, the last
week and month, and older months, whenever the sample is loaded.
"""

import json
import struct
import uuid
import zipfile
import zlib

_NS = uuid.UUID("6f1c0b1e-5a3d-4c55-9a57-2b1d3c4e5f60")


def _id(*parts):
    return str(uuid.uuid5(_NS, "/".join(map(str, parts))))


def png(width, height, colour_a, colour_b):
    """A small diagonal-gradient PNG (the sample's pictures), written by hand so the sample
    needs nothing but the standard library."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            t = (x + y) / (width + height)
            row += bytes(round(a + (b - a) * t) for a, b in zip(colour_a, colour_b))
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


class _Conversation:
    """Builds one export element: a root, then turns appended to the current branch."""

    def __init__(self, key, title, start, model="gpt-4o", **fields):
        self.key, self.model, self.time = key, model, start
        self.cid = _id("conversation", key)
        root = "client-created-root"
        self.mapping = {root: {"id": root, "message": None, "parent": None, "children": []}}
        self.tip = root
        self.data = {"id": self.cid, "conversation_id": self.cid, "title": title, "create_time": start,
                     "mapping": self.mapping, "default_model_slug": model, "is_archived": False,
                     "moderation_results": [], "plugin_ids": None, **fields}
        self.files = {}  # export path -> bytes
        self.textdocs = {}

    def _add(self, role, content, *, name=None, recipient="all", parent=None, status="finished_successfully",
             end_turn=None, metadata=None, gap=20):
        parent = parent or self.tip
        self.time += gap
        node = _id(self.key, len(self.mapping))
        meta = {"parent_id": parent, **(metadata or {})}
        if role != "user":
            meta.setdefault("model_slug", self.model)
        self.mapping[node] = {
            "id": node, "parent": parent, "children": [],
            "message": {"id": node, "author": {"role": role, "name": name, "metadata": {}},
                        "create_time": self.time, "update_time": None, "content": content,
                        "status": status, "end_turn": end_turn, "weight": 1.0, "metadata": meta,
                        "recipient": recipient, "channel": None},
        }
        self.mapping[parent]["children"].append(node)
        self.tip = node
        return node

    def user(self, text, **kw):
        return self._add("user", {"content_type": "text", "parts": [text]}, gap=60, **kw)

    def assistant(self, text, **kw):
        return self._add("assistant", {"content_type": "text", "parts": [text]}, end_turn=True, **kw)

    def think(self, steps, seconds):
        self._add("assistant", {"content_type": "thoughts", "thoughts": [
            {"summary": s, "content": c, "chunks": [], "finished": True} for s, c in steps]},
            metadata={"reasoning_status": "is_reasoning"})
        self._add("assistant", {"content_type": "reasoning_recap", "content": f"Thought for {seconds}s"},
                  metadata={"reasoning_status": "reasoning_ended", "finished_duration_sec": seconds},
                  gap=seconds)

    def python(self, code, output):
        self._add("assistant", {"content_type": "code", "language": "python", "text": code},
                  recipient="python")
        self._add("tool", {"content_type": "execution_output", "text": output}, name="python",
                  recipient="all")

    def upload(self, text, name, picture):
        file_id = "file-" + _id("upload", self.key, name).replace("-", "")[:22]
        self.files[f"{file_id}-{name}"] = picture
        part = {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{file_id}",
                "size_bytes": len(picture), "width": 160, "height": 120}
        return self._add("user", {"content_type": "multimodal_text", "parts": [part, text]}, gap=60,
                         metadata={"attachments": [{"id": file_id, "name": name, "size": len(picture),
                                                    "mime_type": "image/png", "width": 160, "height": 120}]})

    def generate_image(self, prompt, title, picture):
        file_id = "file_" + _id("generated", self.key, title).replace("-", "")
        self.files[f"user-sample/{file_id}-{_id('gen', title)}.png"] = picture
        part = {"content_type": "image_asset_pointer", "asset_pointer": f"sediment://{file_id}",
                "size_bytes": len(picture), "width": 160, "height": 120,
                "metadata": {"dalle": {"prompt": prompt}, "generation": {"width": 160, "height": 120}}}
        self._add("tool", {"content_type": "multimodal_text", "parts": [part]}, name="t2uay3k.sj1i4kz",
                  metadata={"image_gen_title": title})

    def canvas(self, title, text):
        textdoc_id = _id("canvas", self.key).replace("-", "")
        body = json.dumps({"name": title, "type": "document", "content": text})
        self._add("assistant", {"content_type": "code", "language": "json", "text": body},
                  recipient="canmore.create_textdoc")
        self._add("tool", {"content_type": "text", "parts": [
            f"Successfully created text document '{title}' with textdoc_id: '{textdoc_id}'"]},
            name="canmore.create_textdoc", recipient="assistant",
            metadata={"canvas": {"textdoc_id": textdoc_id, "textdoc_type": "document", "version": 1,
                                 "title": title}})
        self.textdocs[f"textdocs/{textdoc_id}.json"] = json.dumps(
            {"id": textdoc_id, "title": title, "content": text, "version": 1}).encode()

    def cited(self, text, sources):
        """An answer citing web pages with the 2024+ private-use markers."""
        refs = []
        for i, (title, url, snippet) in enumerate(sources):
            marker = f"\ue200cite\ue202turn0search{i}\ue201"
            start = text.index(f"[{i}]")
            text = text.replace(f"[{i}]", marker, 1)
            refs.append({"matched_text": marker, "start_idx": start, "end_idx": start + len(marker),
                         "type": "webpage", "title": title, "url": url, "snippet": snippet,
                         "attribution": url.split("/")[2], "refs": [{"turn_index": 0, "ref_type": "search",
                                                                     "ref_index": i}]})
        return self._add("assistant", {"content_type": "text", "parts": [text]}, end_turn=True,
                         metadata={"content_references": refs, "citations": []})

    def finish(self):
        self.data["current_node"] = self.tip
        self.data["update_time"] = self.time
        return self.data


_DAY = 86400.0

# (title, days ago, model, prompt, answer): everyday conversations for the list and search.
_SIMPLE = [
    ("Sourdough starter schedule", 0.1, "gpt-5", "My starter doubles in 6 hours at 24°C. When should I feed it for a Saturday bake?",
     "Feed it **Friday at 8 pm** at 1:5:5, then build the levain at 7 am.\n\n1. Friday 20:00 — feed 1:5:5\n2. Saturday 07:00 — levain\n3. Saturday 11:00 — mix the dough"),
    ("Weekend hike near the lake", 0.4, "gpt-5", "Suggest a 10 km loop with a café at the end.",
     "Try the **east shore loop**:\n\n- 10.4 km, 220 m of climbing\n- shade for the first half\n- the boathouse café opens at 9"),
    ("Regex for ISO dates", 1.2, "gpt-4o", "Match 2024-03-09 but not 2024-13-40.",
     "```python\nimport re\nISO = re.compile(r\"^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$\")\nprint(bool(ISO.match(\"2024-03-09\")))\n```\nIt does not check month lengths; use `datetime.date.fromisoformat` for that."),
    ("Packing list for a rainy city break", 1.5, "gpt-4o", "Three days in the rain, one small bag.",
     "- a light shell with a hood\n- two merino tops\n- quick-dry trousers\n- a foldable tote for the market"),
    ("Explain the pipeline pattern", 3, "o3", "What is a data pipeline, in one paragraph?",
     "A pipeline passes data through **stages**, each doing one job: read, clean, transform, store. Stages talk through queues, so each can run at its own pace and be tested alone."),
    ("Birthday message for my aunt", 4, "gpt-4o", "Something warm, two sentences, she loves gardening.",
     "Happy birthday! May your year be as full of blossoms as your garden, and may every tomato ripen on time."),
    ("SQL window functions", 6, "gpt-4o", "Running total of sales per day?",
     "```sql\nSELECT day, amount,\n       sum(amount) OVER (ORDER BY day) AS running_total\nFROM sales;\n```"),
    ("Tomato plants turning yellow", 9, "gpt-4o", "Lower leaves yellow, the rest fine.",
     "Usually nitrogen or watering. Remove the yellow leaves, water at the base in the morning, and feed once a week."),
    ("Cover letter for a library job", 14, "gpt-4o", "Make it short and friendly.",
     "Dear hiring team,\n\nI would love to help readers find their next favourite book…"),
    ("Compare two mortgage offers", 18, "o3", "4.1% over 25 years or 3.8% with a 1,500 fee?",
     "On 200,000 the lower rate saves about **8,400** over the term, far more than the fee."),
    ("Learning Spanish verbs", 25, "gpt-4o", "A trick for ser vs estar?",
     "*Ser* for what something **is** (identity, origin, time); *estar* for how it **is** (state, place)."),
    ("Pipeline retries with backoff", 33, "gpt-4o", "How should a pipeline retry a flaky step?",
     "Retry with **exponential backoff and jitter**, cap the attempts, and make the step idempotent so a retry cannot double-write."),
    ("Bike chain keeps slipping", 47, "gpt-4o", "Slips under load in the smallest cog.",
     "A worn chain or cassette. Measure the chain stretch; past 0.75% replace both."),
    ("Meal plan for a busy week", 61, "gpt-4o", "Five dinners, under 30 minutes each.",
     "| Day | Dinner |\n|---|---|\n| Mon | lentil curry |\n| Tue | pesto pasta |\n| Wed | egg fried rice |\n| Thu | bean tacos |\n| Fri | tray-bake gnocchi |"),
    ("Understanding compound interest", 95, "gpt-4", "Why does compounding matter?",
     "Because interest earns interest: $A = P(1 + r/n)^{nt}$ grows faster the more often it compounds."),
    ("Git rebase vs merge", 130, "gpt-4", "When do I rebase?",
     "Rebase your **own** unpublished branch to tidy it; merge shared branches so history stays true."),
    ("Haiku about autumn", 190, "gpt-4", "One haiku, please.",
     "Maple leaves let go\nthe path remembers their red\nlong after the rain"),
    ("Pipeline for resizing photos", 260, "gpt-4", "Resize a folder of photos to 1600 px.",
     "```bash\nmkdir -p small && for f in *.jpg; do convert \"$f\" -resize 1600x1600 \"small/$f\"; done\n```"),
    ("Board games for four players", 340, "gpt-3.5-turbo", "Under an hour, easy to teach.",
     "*Ticket to Ride*, *Kingdomino* and *The Crew* all fit."),
    ("First steps with Python", 420, "gpt-3.5-turbo", "How do I read a CSV file?",
     "```python\nimport csv\nwith open(\"data.csv\", newline=\"\") as f:\n    for row in csv.DictReader(f):\n        print(row)\n```"),
]


def _rich(now):
    """A handful of conversations showing what a transcript can hold."""
    out = []

    c = _Conversation("branches", "Planning a garden pond", now - 0.2 * _DAY, model="gpt-5")
    ask = c.user("How deep should a small wildlife pond be?")
    first = c.assistant("About **60 cm** at the deepest point, with shallow shelves at the edges.")
    c.tip = ask
    c.assistant("Aim for **45–60 cm** in the middle so it never freezes solid, and a gentle beach so frogs can climb out.\n\n1. Dig the shelves first\n2. Line with sand and underlay\n3. Fill with rainwater")
    c.user("And which plants oxygenate the water?")
    c.assistant("Hornwort and water starwort are native and easy. Plant them in baskets, not loose.")
    c.tip = first
    c.user("Is a liner better than a preformed pond?")
    c.assistant("A flexible liner lets you shape shelves and lasts 20+ years; preformed shells are quicker but shallow.")
    c.tip = list(c.mapping)[-3]  # the branch ChatGPT shows: the regenerated answer's thread
    out.append(c)

    c = _Conversation("reasoning", "Why is the sky blue?", now - 2 * _DAY, model="o3")
    c.user("Explain why the sky is blue, with the formula.")
    c.think([("Recalling Rayleigh scattering", "Scattering goes as the inverse fourth power of wavelength."),
             ("Checking the numbers", "Blue at 450 nm vs red at 700 nm: (700/450)^4 ≈ 5.9.")], 14)
    c.assistant("Air molecules scatter short wavelengths far more than long ones (Rayleigh scattering):\n\n"
                "$$I \\propto \\frac{1}{\\lambda^4}$$\n\nSo blue light at 450 nm scatters about "
                "\\((700/450)^4 \\approx 5.9\\) times more than red at 700 nm.")
    out.append(c)

    c = _Conversation("code", "Average rainfall by month", now - 5 * _DAY, model="gpt-4o")
    c.user("Here are twelve monthly rainfall figures in mm: 78 61 55 48 52 47 40 45 57 83 90 86. What is the average?")
    c.python("rain = [78, 61, 55, 48, 52, 47, 40, 45, 57, 83, 90, 86]\nprint(sum(rain) / len(rain))", "61.833333333333336")
    c.assistant("The average is **61.8 mm** a month; October to December are the wettest.")
    out.append(c)

    c = _Conversation("photo", "What bird is this?", now - 8 * _DAY, model="gpt-4o")
    c.upload("I saw this one by the river. What is it?", "river_bird.png", png(160, 120, (40, 90, 160), (230, 200, 90)))
    c.assistant("From the blue back and orange breast, a **kingfisher**. They perch low over slow water.")
    c.user("Can you draw one for my niece?")
    c.generate_image("a friendly cartoon kingfisher on a branch", "Cartoon kingfisher",
                     png(160, 120, (20, 120, 170), (250, 140, 40)))
    c.assistant("Here is a cheerful kingfisher for her.")
    out.append(c)

    c = _Conversation("search", "Opening hours of the botanical garden", now - 12 * _DAY, model="gpt-4o")
    c.user("When is the botanical garden open this winter?")
    c.cited("From November to February it opens 10:00–16:00 [0], and the glasshouses close at 15:30 [1].",
            [("Winter opening times (sample)", "https://garden.example.org/visit", "Open daily 10–4 in winter."),
             ("Glasshouses (sample)", "https://garden.example.org/glasshouses", "Last entry 15:15.")])
    out.append(c)

    c = _Conversation("canvas", "Newsletter draft", now - 40 * _DAY, model="gpt-4o",
                      gizmo_id="g-p-sample0project0", gizmo_type="snorlax")
    c.user("Draft a short spring newsletter for the allotment club.")
    c.canvas("Spring newsletter", "# Spring at the allotments\n\nSeed swap on the 12th, compost delivery on the 20th.")
    c.assistant("I drafted it in a canvas: a seed swap and the compost delivery lead.")
    out.append(c)

    c = _Conversation("untitled", "", now - 70 * _DAY, model="gpt-4o")
    c.user("quick one: how many grams in a cup of flour?")
    c.assistant("About **120–125 g** for all-purpose flour, spooned and levelled.")
    out.append(c)
    return out


def sample_conversations(now):
    """The sample as ``(export elements, {export path: bytes})``."""
    built = []
    for i, (title, days, model, prompt, answer) in enumerate(_SIMPLE):
        c = _Conversation(f"simple-{i}", title, now - days * _DAY, model=model,
                          is_archived=(i == len(_SIMPLE) - 1))
        c.user(prompt)
        c.assistant(answer)
        built.append(c)
    built += _rich(now)
    files = {}
    for c in built:
        files.update(c.files)
        files.update(c.textdocs)
    built.sort(key=lambda c: -c.time)
    return [c.finish() for c in built], files


def write_sample_export(path, now):
    """Write the sample as an official-export-shaped zip at ``path``."""
    conversations, files = sample_conversations(now)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("conversations.json", json.dumps(conversations, ensure_ascii=False))
        for name, data in files.items():
            z.writestr(name, data)
    return len(conversations)
