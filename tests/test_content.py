import json

import pytest

from archiver.content import render_content
from conftest import fixture_json


def test_text_parts_joined():
    assert render_content({"content_type": "text", "parts": ["one", "two"]}) == ("one\ntwo", [])


def test_code_keeps_its_language():
    content = {"content_type": "code", "language": "python", "text": "print(1)"}
    assert render_content(content) == ("```python\nprint(1)\n```", [])
    unknown_language = {"content_type": "code", "language": "unknown", "text": 'search("x")'}
    assert render_content(unknown_language) == ('```\nsearch("x")\n```', [])


def test_image_pointer_becomes_a_readable_placeholder():
    content = {
        "content_type": "multimodal_text",
        "parts": [
            {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-abc",
             "width": 10, "height": 20, "metadata": {"dalle": None}},
            "what is this?",
        ],
    }
    assert render_content(content) == ("[image: file-service://file-abc (10x20)]\nwhat is this?", [])


def test_voice_parts():
    content = {
        "content_type": "multimodal_text",
        "parts": [
            {"content_type": "audio_transcription", "text": "hello there", "direction": "in"},
            {"content_type": "real_time_user_audio_video_asset_pointer", "frames_asset_pointers": [],
             "video_container_asset_pointer": None,
             "audio_asset_pointer": {"content_type": "audio_asset_pointer",
                                     "asset_pointer": "sediment://file_1", "format": "wav"}},
        ],
    }
    assert render_content(content) == ("hello there\n[audio: sediment://file_1 (wav)]", [])


def test_execution_output_names_its_images():
    metadata = {"aggregate_result": {"messages": [
        {"message_type": "image", "image_url": "file-service://file-plot"},
        {"message_type": "stream", "text": "ignored"},
    ]}}
    content = {"content_type": "execution_output", "text": "42"}
    assert render_content(content, metadata=metadata) == ("42\n[image: file-service://file-plot]", [])


def test_thoughts_and_recap_are_searchable():
    thoughts = {"content_type": "thoughts", "source_analysis_msg_id": "x",
                "thoughts": [{"summary": "Plan", "content": "think hard", "chunks": [], "finished": True}]}
    assert render_content(thoughts) == ("Plan\nthink hard", [])
    assert render_content({"content_type": "reasoning_recap", "content": "Thought for 3s"}) == ("Thought for 3s", [])


def test_search_citation_markers_replaced_and_sources_listed():
    metadata = {"content_references": [
        {"matched_text": "\ue200cite\ue202turn0search1\ue201", "alt": "([site](https://site.example))",
         "type": "webpage", "title": "Site", "url": "https://site.example"},
        {"matched_text": " ", "alt": "", "type": "sources_footnote",
         "sources": [{"title": "Other", "url": "https://other.example"}]},
    ]}
    content = {"content_type": "text", "parts": ["Open daily \ue200cite\ue202turn0search1\ue201. Bring water\ue203."]}
    assert render_content(content, metadata=metadata) == (
        "Open daily ([site](https://site.example)). Bring water.\n"
        "Sources:\n- Site — https://site.example\n- Other — https://other.example",
        [],
    )


def test_canvas_document_is_shown_with_its_name():
    doc = json.dumps({"name": "notes", "type": "code/python", "content": "x = 1"})
    content = {"content_type": "text", "parts": [doc]}
    assert render_content(content, recipient="canmore.create_textdoc") == (
        "[canvas: notes (code/python)]\nx = 1", [])


def test_unknown_content_type_gives_its_strings_and_is_reported():
    content = {"content_type": "hologram_v9", "caption": "a nebula", "frames": [{"url": "https://f"}]}
    assert render_content(content) == ("a nebula\nhttps://f", ["hologram_v9"])


def test_unknown_part_type_is_reported():
    content = {"content_type": "multimodal_text",
               "parts": ["hi", {"content_type": "smell_pointer", "asset_pointer": "sediment://file_9", "note": "rain"}]}
    assert render_content(content) == ("hi\n[file: sediment://file_9]\nrain", ["part:smell_pointer"])


@pytest.mark.parametrize("content", [None, "plain", 7, [], {"content_type": "text", "parts": None},
                                     {"content_type": "text", "parts": [None, 3, {"x": "y"}]},
                                     {"content_type": "code", "text": ["not", "a", "string"]}])
def test_odd_shapes_never_raise(content):
    text, unknown = render_content(content)
    assert isinstance(text, str)


# Each marker word sits in one message of the fixture; its type must make it searchable.
MARKERS = {
    "zephyrine": "text", "kestrel": "multimodal_text", "frobnicate_widgets": "code",
    "mudslide": "tether_browsing_display", "switchback": "tether_quote", "cairn": "tether_browsing_code",
    "quixotic": "thoughts", "talus": "text", "larkspur": "text", "marmalade": "text",
    "pumpernickel": "text", "pelican": "multimodal_text", "albatross": "multimodal_text",
    "heron": "multimodal_text", "lighthouse": "sonic_webpage", "Xcode": "app_pairing_content",
    "nebulous": "hologram_v9", "petrichor": "multimodal_text", "saxifrage": "text",
    "cartographer": "text", "ptarmigan": "text", "unfinished": "text",
}


@pytest.mark.parametrize("word,content_type", sorted(MARKERS.items()))
def test_every_content_type_in_fixture_is_searchable(word, content_type):
    conversation = fixture_json("every_content_type.json")
    hits = []
    for node in conversation["mapping"].values():
        message = node["message"]
        if not message:
            continue
        text, _ = render_content(message["content"], recipient=message.get("recipient"),
                                 metadata=message.get("metadata"))
        if word in text:
            hits.append(message["content"]["content_type"])
    assert hits == [content_type]


def test_web_search_results_become_searchable_text():
    # web.run keeps its results only in metadata: the message's own content is empty.
    rich = fixture_json("rich_transcript.json")
    tool = rich["mapping"]["b7e3a9d0-0000-4000-8000-000000000008"]["message"]
    assert render_content(tool["content"], recipient="assistant", metadata=tool["metadata"]) == (
        "Search results:\n"
        "Hut opening dates — https://huts.example.org/opening\nMost huts open in mid June (synthetic snippet about edelweiss).\n"
        "The alpine club — https://huts.example.org/club\nThe club runs twelve huts.\n"
        "<script>alert(4)</script>Evil result — javascript:alert(3)\n<img src=x onerror=alert(5)>", [])


def test_deep_research_report_becomes_searchable_text():
    rich = fixture_json("rich_transcript.json")
    tool = rich["mapping"]["b7e3a9d0-0000-4000-8000-000000000015"]["message"]
    assert render_content(tool["content"], metadata=tool["metadata"]) == (
        "# Hut history report\n\nThe first hut was built in 1889  by shepherds "
        "(synthetic report on a cairn-builder guild).\n\n## Findings\n\n1. Stone walls\n2. Slate roofs\n"
        "Sources:\n- Alpine archive — https://archive.example.org/huts", [])
    # The widget state may be an object rather than a JSON string; junk in it is no report.
    for state, text in ((json.loads(tool["metadata"]["chatgpt_sdk"]["widget_state"]), "# Hut history report"),
                        ("{not json", ""), ({"report_message": {"content": {"parts": [""]}}}, ""),
                        ({"report_message": "Plain report"}, "Plain report"), (["x"], "")):
        rendered, _ = render_content({"content_type": "text", "parts": [""]}, metadata={"chatgpt_sdk": {"widget_state": state}})
        assert rendered.startswith(text) and (rendered == "") == (text == ""), state


def test_asset_pointers_skips_only_content_that_names_none():
    # The quick check on the content's JSON text must never miss a pointer the walk finds.
    from pathlib import Path

    from archiver.content import asset_pointers
    from archiver.reshape import to_json

    from conftest import CORPUS

    checked = found = 0
    corpus = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []  # real conversations, when present
    for path in sorted(Path(__file__).parent.joinpath("data").glob("*.json")) + corpus:
        data = json.loads(path.read_text())
        for item in data if isinstance(data, list) else [data]:
            nodes = item.get("mapping") if isinstance(item, dict) and isinstance(item.get("mapping"), dict) else {}
            for node in nodes.values():
                message = node.get("message") if isinstance(node, dict) else None
                if not isinstance(message, dict):
                    continue
                content, metadata = message.get("content"), message.get("metadata")
                walked = asset_pointers(content, metadata)
                assert asset_pointers(content, metadata, to_json(content)) == walked
                checked += 1
                found += bool(walked)
    assert checked > 80 and found >= 3
    deep = {"content_type": "multimodal_text", "parts": [{"x": [[{"asset_pointer": "sediment://h#file_00ab"}]]}]}
    assert asset_pointers(deep, {}, to_json(deep)) == [("sediment://h#file_00ab", "file_00ab")]
    said = {"content_type": "text", "parts": ['the key is called "asset_pointer"']}  # named, not a key
    assert asset_pointers(said, {}, to_json(said)) == []
