"""Datasette configuration and descriptions shipped with the package (what a datasette.yaml
and metadata.yaml would hold), built for the archive's database name."""

from .auth import PLUGIN

HIDDEN = ["chatgpt_message_fts", "chatgpt_conversation_fts", "_sqlite_migrations",
          "chatgpt_embedding"]  # semantic-search vectors: bytes, of no use to read
PRIVATE = ["archiver_token", "archiver_meta"]


def browse_config(database, public):
    tables = {
        "chatgpt_conversation": {
            "sort_desc": "update_time",
            "label_column": "title",  # foreign-key links show the title
            "facets": ["default_model_slug", "is_archived", "project_id"],
        },
        "chatgpt_message": {
            "sort_desc": "create_time",
            "facets": ["author_role", "content_type", "model", "conversation_id"],
        },
        "chatgpt_capture": {"sort_desc": "id", "facets": ["source", "token_name"]},
        **{t: {"hidden": True} for t in HIDDEN},
        # Token names and hashes, and our bookkeeping: for root only, even on loopback.
        **{t: {"hidden": True, "allow": {"id": "root"}} for t in PRIVATE},
    }
    config = {
        "plugins": {PLUGIN: {"database": database}},
        "databases": {database: {"tables": tables}},
    }
    if public:
        # Bound beyond loopback: only root reads, except what was published on purpose.
        config["allow"] = {"id": "root"}
        for view in ("public_conversations", "public_messages"):
            tables[view] = {"allow": True}
    return config


def _columns(**descriptions):
    return descriptions


def browse_metadata(database):
    return {
        "title": "ChatGPT archive",
        "description": "Every conversation captured from ChatGPT or imported from an export:"
        " every branch, every message, full-text searchable. These are its tables; the"
        " conversations themselves are listed on the home page, newest first.",
        "databases": {database: {"tables": {
            "chatgpt_conversation": {
                "description": "One row per conversation; the newest capture decides its fields.",
                "columns": _columns(
                    id="ChatGPT's conversation id", title="Title shown in ChatGPT's sidebar",
                    create_time="Created (Unix seconds)", update_time="Last changed (Unix seconds)",
                    current_node="The node ChatGPT showed last, as captured",
                    current_leaf="The leaf of the branch shown (current_node, or the newest leaf)",
                    default_model_slug="Model the conversation defaulted to",
                    gizmo_id="Custom GPT (g-…) or project (g-p-…)", project_id="Project (g-p-…), if any",
                    message_count="Messages on every branch", shape="tree, or page (a paged read)",
                    conversation_json="Every other field ChatGPT sent, raw",
                    moderation_results="Raw JSON", plugin_ids="Raw JSON (2023 plugins)",
                    last_captured_at="When the newest capture arrived (UTC)",
                ),
            },
            "chatgpt_message": {
                "description": "One row per node of every conversation's tree, on every branch."
                " `text` is the searchable rendering; the raw message is in `message_json`.",
                "columns": _columns(
                    id="Row id: the node id (or conversation:node when another conversation has it)",
                    node_id="The node's id in ChatGPT's mapping", parent_id="Parent node",
                    child_index="Position among its siblings (edits and regenerations)",
                    is_current="1 on the branch ChatGPT shows", is_hidden="1 where ChatGPT's UI hides it",
                    author_role="user, assistant, system or tool", content_type="ChatGPT's content type",
                    text="Searchable text: code keeps its language, files and images become placeholders",
                    model="Model that wrote it", content="The content object, raw JSON (2023 column)",
                    metadata="Raw JSON", message_json="The whole message, raw JSON (computed when read)",
                    message_rest="What is stored of message_json: the message less its content and"
                    " metadata, which message_json takes from their columns",
                    unknown_types="Content or part types the archiver did not know",
                ),
            },
            "chatgpt_capture": {
                "description": "Every capture exactly as posted (gzip), with when, from which token,"
                " and its SHA-256. `chatgpt-archiver rebuild` re-derives all rows from these.",
                "columns": _columns(
                    conversation_id="The conversation captured", received_at="First received (UTC)",
                    last_received_at="Last received (an identical re-post counts again)",
                    times_received="How often these exact bytes arrived", source="api, or import:<file>",
                    token_name="The token that posted it", sha256="SHA-256 of the bytes as posted",
                    size="Bytes as posted", update_time="The conversation's update_time in this capture",
                    shape="tree (full mapping) or page (a paged read)", body="The bytes as posted, gzip",
                ),
            },
            "chatgpt_public": {"description": "Conversations shared on purpose (`chatgpt-archiver publish ID`)."},
            "public_conversations": {"description": "Published conversations, readable by anyone."},
            "public_messages": {"description": "The visible messages of published conversations."},
        }}},
    }
