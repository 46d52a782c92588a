// Small behaviours the pages share; everything works without them.

// "Copy" next to a value shown once (a new API key): copy it, or at least select it for Ctrl-C.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  const done = () => { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, () => { button.textContent = "Press Ctrl-C"; });
  } else {
    button.textContent = "Press Ctrl-C";
  }
});
