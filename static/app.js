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

/* campaigns */
// Merge-field buttons in the campaign composer: put the field at the cursor (replacing a selection)
// and tell the text box it changed, so the live preview counts the new text.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-insert]");
  if (!button) return;
  const box = document.getElementById(button.dataset.target);
  if (!box || box.readOnly) return;
  const start = box.selectionStart ?? box.value.length;
  const end = box.selectionEnd ?? start;
  box.setRangeText(button.dataset.insert, start, end, "end");
  box.focus();
  box.dispatchEvent(new Event("input", { bubbles: true }));
});
