"""The Gradio chat page (placeholder until the chat issue lands)."""

from __future__ import annotations


def build_app(assistant):
    import gradio as gr

    with gr.Blocks(title="Article assistant") as app:
        gr.Markdown("Article assistant")
    return app
