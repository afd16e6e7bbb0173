// The portal's progressive enhancement: every page works without it (plain links and forms);
// with it, a secret is copied with one button, a form that destroys something asks first, and
// an image can be zoomed and rotated. No HTML is built from strings.

function copyButtons() {
  for (const b of document.querySelectorAll("[data-copy]")) {
    b.hidden = false;
    b.addEventListener("click", async () => {
      const target = document.getElementById(b.dataset.copy);
      if (!target) return;
      try {
        await navigator.clipboard.writeText(target.textContent.trim());
        b.textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(target);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        b.textContent = "Selected: press Ctrl+C";
      }
    });
  }
}

function confirmForms() {
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
}

function imageTools() {
  for (const fig of document.querySelectorAll("figure[data-viewer]")) {
    const img = fig.querySelector("img");
    const tools = fig.querySelector(".tools");
    if (!img || !tools) continue;
    let turn = 0;
    let zoom = false;
    // Turned and scaled about its top left corner, then moved back into its frame, so the
    // whole picture stays where the frame scrolls to it.
    const apply = () => {
      const s = zoom ? 2 : 1;
      const w = img.offsetWidth * s;
      const h = img.offsetHeight * s;
      const [x, y] = [[0, 0], [h, 0], [w, h], [0, w]][turn];
      img.style.transformOrigin = "top left";
      img.style.transform = `translate(${x}px, ${y}px) rotate(${turn * 90}deg) scale(${s})`;
    };
    for (const b of tools.querySelectorAll("button[data-act]")) {
      b.hidden = false;
      b.addEventListener("click", () => {
        if (b.dataset.act === "rotate") turn = (turn + 1) % 4;
        if (b.dataset.act === "zoom") {
          zoom = !zoom;
          b.setAttribute("aria-pressed", String(zoom));
        }
        apply();
      });
    }
  }
}

copyButtons();
confirmForms();
imageTools();
