"""How the app looks: the theme and a little CSS (passed to demo.launch, where Gradio 6 takes them)."""

import gradio as gr

# Soft's indigo, one shade darker where text sits on it or is drawn in it: its own shades gave the labels,
# the selected tab, white text on primary buttons, links and the grey hints under fields less than WCAG AA's
# 4.5:1 contrast (3.6:1, 4.3:1, 4.5:1, 4.1:1 and 2.5:1; tests/test_browser_projector.py measures them).
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky").set(
    color_accent="*primary_600",
    block_label_text_color="*primary_700",
    block_title_text_color="*primary_700",
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_hover="*primary_700",
    checkbox_label_background_fill_selected="*primary_600",
    body_text_color_subdued="*neutral_600",
    link_text_color="*secondary_700", link_text_color_hover="*secondary_800",
    link_text_color_visited="*secondary_800", link_text_color_active="*secondary_800",
)

CSS = """
/* MNIST digits are 28x28 pixels: keep them sharp when the browser scales them up. */
.genai-digits img {
  image-rendering: pixelated;
  width: 100%; height: 100%; object-fit: contain;  /* small pictures grow to fill their box ... */
  box-sizing: border-box; padding-top: 36px;  /* ... below the label and buttons, not under them */
}
.genai-progress { padding: 4px 2px 8px; }
.genai-progress-track {
  height: 16px; border-radius: 8px; overflow: hidden;
  background: var(--border-color-primary);
}
.genai-progress-fill {
  height: 100%; border-radius: 8px; background: var(--color-accent);
  transition: width 0.4s ease;
}
.genai-progress-text { margin-top: 6px; font-variant-numeric: tabular-nums; }
.genai-progress-losses { font-variant-numeric: tabular-nums; font-weight: 600; }
/* A picture under a floating label (step mode's batch): room above it, so the label never covers it. */
.genai-picture img { box-sizing: border-box; padding-top: 36px; object-fit: contain; }
.genai-note { font-size: var(--text-sm); }
/* Galleries of grids (Compare, the Sample tab's steps side by side): each grid keeps its own shape (a
   conditional model's ten columns are a strip: in a square box it was a thin strip in white space), its
   caption goes under it rather than over its digits, and the gallery grows to hold every grid instead of
   scrolling inside itself. Compare's table headings break between words only. */
.genai-grid-gallery .grid-wrap { max-height: none; min-height: 0; overflow: visible; padding-top: 40px; }  /* below the label */
.genai-grid-gallery .grid-container { grid-template-rows: none; grid-auto-rows: auto; align-items: start; }
.genai-grid-gallery .gallery-item, .genai-grid-gallery .thumbnail-item { height: auto; aspect-ratio: auto; }
.genai-grid-gallery .thumbnail-item { display: flex; flex-direction: column; align-items: center; }
.genai-grid-gallery .thumbnail-lg > img {
  width: auto; height: auto; max-width: 100%; max-height: 300px; padding-top: 0; min-width: 60%;
}
.genai-grid-gallery .caption-label {
  position: static; max-width: 100%; white-space: normal; border: none; align-self: stretch;
}
#compare-table th, #compare-table td { word-break: normal; overflow-wrap: normal; hyphens: none; }
.genai-explain { border-left: 3px solid var(--color-accent); padding-left: 12px !important; }
/* The lesson: the question stands out (the class answers it first); the banner above the tabs stays small. */
.genai-lesson-question {
  font-size: var(--text-lg); padding: 10px 14px !important; border-radius: 8px;
  background: var(--color-accent-soft); border-left: 4px solid var(--color-accent);
}
.genai-lesson-steps label { width: 100%; padding-top: 2px; padding-bottom: 2px; }  /* nine steps above the fold at 720 px */
.genai-lesson-banner {
  background: var(--color-accent-soft); border-radius: 8px; padding: 2px 10px !important; align-items: center;
}
.genai-lesson-banner .prose { font-size: var(--text-sm); }

/* Gradio makes a plot's chart as tall as its whole block, label included, and the block hides what spills
   out: the loss curves' legend (which colour is which loss) was cut off. The chart takes what the label leaves. */
#train-losses { display: flex; flex-direction: column; }
#train-losses .vega-embed { flex: 1 1 0; min-height: 0; height: auto !important; }

/* The class view (the Train tab's "Class view" box puts genai-class-view on the page): for a projector, the
   settings, the explanation and the code hide; the live grid fills the left of the screen, at least 512 px
   wide at 1280x720, and beside it the step and the losses in type a room can read, above the loss curves. */
.genai-class-view #train-settings, .genai-class-view #train-explain, .genai-class-view #train-code-panel {
  display: none !important;
}
.genai-class-view #train-main {
  display: grid !important; grid-template-columns: minmax(512px, 5fr) minmax(300px, 4fr);
  column-gap: 16px; row-gap: 12px; align-items: start;
}
.genai-class-view #train-main > * { grid-column: 1 / -1; }
.genai-class-view #train-live-row { display: contents; }  /* its grid and curves become cells of the view */
.genai-class-view #train-preview {
  grid-column: 1; grid-row: 2 / span 2; height: min(620px, calc(100vh - 80px)) !important;
}
.genai-class-view #train-progress { grid-column: 2; grid-row: 2; }
.genai-class-view #train-losses { grid-column: 2; grid-row: 3; }
.genai-class-view .genai-progress-text { font-size: 22px; line-height: 1.3; }  /* epoch, speed, time left */
.genai-class-view .genai-progress-step { display: block; font-size: 44px; font-weight: 700; }
.genai-class-view .genai-progress-then { display: none; }  /* the step has a line of its own */
.genai-class-view .genai-progress-losses { font-size: 30px; line-height: 1.3; margin-top: 8px; }
"""

HEADER = """
# genai — watch generative models learn
Train a **GAN**, a **VAE**, an **autoregressive** or a **diffusion model** on handwritten digits and watch it
learn, draw new digits with a seed slider, walk through latent space, compare the four families on one seed,
look inside a VAE, and share models on the Hub.
"""
