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
"""

HEADER = """
# genai — watch generative models learn
Train a **GAN**, a **VAE**, an **autoregressive** or a **diffusion model** on handwritten digits and watch it
learn, draw new digits with a seed slider, walk through latent space, compare the four families on one seed,
look inside a VAE, and share models on the Hub.
"""
