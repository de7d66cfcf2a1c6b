"""How the app looks: the theme and a little CSS (passed to demo.launch, where Gradio 6 takes them)."""

import gradio as gr

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky")

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
.genai-note { font-size: var(--text-sm); opacity: 0.85; }
.genai-explain { border-left: 3px solid var(--color-accent); padding-left: 12px !important; }
/* The lesson: the question stands out (the class answers it first); the banner above the tabs stays small. */
.genai-lesson-question {
  font-size: var(--text-lg); padding: 10px 14px !important; border-radius: 8px;
  background: var(--color-accent-soft); border-left: 4px solid var(--color-accent);
}
.genai-lesson-steps label { width: 100%; }
.genai-lesson-banner {
  background: var(--color-accent-soft); border-radius: 8px; padding: 2px 10px !important; align-items: center;
}
.genai-lesson-banner .prose { font-size: var(--text-sm); }
"""

HEADER = """
# genai — watch generative models learn
Train a **GAN**, a **VAE**, an **autoregressive** or a **diffusion model** on handwritten digits and watch it
learn, draw new digits with a seed slider, walk through latent space, compare the four families on one seed,
look inside a VAE, and share models on the Hub.
"""
