// genlab serve: the only script the pages load (the content security policy forbids inline code).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Choosing another run reloads the page so the form shows that run's settings.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => { if (select.value) select.form.submit(); });
  }
  // Latent explorer: moving the slider swaps the frame image without a page load.
  const slider = document.getElementById("t");
  const frame = document.getElementById("frame");
  const shown = document.getElementById("t-value");
  if (slider && frame && slider.dataset.frameBase) {
    slider.addEventListener("input", () => {
      shown.textContent = Number(slider.value).toFixed(2);
      frame.src = slider.dataset.frameBase + "&t=" + encodeURIComponent(slider.value);
    });
  }
});
