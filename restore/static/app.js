// The restore page. User text is only ever placed with textContent or createTextNode, never
// parsed as HTML, so "<script>" in a text shows as text and runs nothing.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const input = $("input");
  const output = $("output");
  const pageBox = $("html");
  const status = $("status");
  const tooltip = $("tooltip");
  let restored = "";

  function percent(x) {
    return x === null || x === undefined ? "n/a" : (100 * x).toFixed(0) + "%";
  }

  function setStatus(message, isError) {
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  // Build the restored text: the input, with each edit's span replaced by a <mark> holding the
  // restoration (and a hidden <del> with the spun word, shown by the diff toggle), and each
  // suggestion's word in a <button> that puts the suggested word in its place and back.
  // Offsets from the server count code points (Python str indices), not UTF-16 units.
  function render(text, result) {
    const chars = Array.from(text);
    const slice = (a, b) => chars.slice(a, b).join("");
    output.replaceChildren();
    const suggestions = result.suggestions || [];
    const marked = result.edits
      .map((edit) => ({ edit, suggested: false }))
      .concat(suggestions.map((edit) => ({ edit, suggested: true })))
      .sort((a, b) => a.edit.start - b.edit.start);
    let pos = 0;
    marked.forEach(({ edit, suggested }) => {
      if (edit.start < pos) return; // overlaps what is already shown
      output.append(document.createTextNode(slice(pos, edit.start)));
      if (suggested) output.append(suggestionButton(edit));
      else output.append(spunWord(edit.spun), editMark(edit));
      pos = edit.end;
    });
    output.append(document.createTextNode(slice(pos, chars.length)));
    const detection = result.detection || {};
    $("spin-score").textContent = percent(detection.spin_score);
    $("spun-probability").textContent = percent(detection.spun_probability);
    $("edit-count").textContent = String(result.edits.length);
    $("suggestion-count").textContent = String(suggestions.length);
    $("output-section").hidden = false;
    updateRestored();
  }

  // The spun word an edit replaced: hidden unless the diff view is on.
  function spunWord(word) {
    const spun = document.createElement("del");
    spun.className = "spun";
    spun.textContent = word;
    return spun;
  }

  // The words a click steps through: an edit's restoration, the other originals the model
  // weighed, then the spun word; a suggestion starts at the spun word.
  function choices(edit, suggested) {
    const others = (edit.alternatives || []).map((a) => a.restored);
    return suggested ? [edit.spun, edit.restored, ...others] : [edit.restored, ...others, edit.spun];
  }

  function describe(element, edit) {
    element.dataset.spun = edit.spun;
    element.dataset.restored = edit.restored;
    element.dataset.confidence = String(edit.confidence);
    element.dataset.others = (edit.alternatives || [])
      .map((a) => `"${a.restored}" (${percent(a.confidence)})`)
      .join(", ");
  }

  function editMark(edit) {
    const mark = document.createElement("mark");
    mark.className = "edit";
    mark.tabIndex = 0;
    mark.setAttribute("role", "button");
    mark.textContent = edit.restored;
    describe(mark, edit);
    mark.dataset.choices = JSON.stringify(choices(edit, false));
    mark.dataset.choice = "0";
    const label = `"${edit.spun}" restored to "${edit.restored}", confidence ${percent(edit.confidence)}`;
    mark.setAttribute("aria-label", label);
    return mark;
  }

  function suggestionButton(edit) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "suggestion";
    button.textContent = edit.spun;
    describe(button, edit);
    button.dataset.choices = JSON.stringify(choices(edit, true));
    button.dataset.choice = "0";
    button.setAttribute("aria-pressed", "false");
    button.setAttribute(
      "aria-label",
      `"${edit.spun}" may be spun: perhaps "${edit.restored}", confidence ${percent(edit.confidence)}`
    );
    return button;
  }

  // The text that copy and download give: what the output shows, without the diff's spun words.
  function updateRestored() {
    restored = Array.from(output.childNodes)
      .filter((node) => !(node instanceof HTMLElement && node.matches("del.spun")))
      .map((node) => node.textContent)
      .join("");
  }

  // A click puts the next word in place; the diff view shows the spun word beside any other.
  function nextChoice(element) {
    const words = JSON.parse(element.dataset.choices);
    const index = (Number(element.dataset.choice) + 1) % words.length;
    element.dataset.choice = String(index);
    const word = words[index];
    element.textContent = word;
    const spun = word !== element.dataset.spun;
    if (element.matches(".suggestion")) element.setAttribute("aria-pressed", String(spun));
    else element.classList.toggle("kept", !spun); // an edit put back to the spun word
    element.setAttribute("aria-label", `"${element.dataset.spun}" now reads "${word}"`);
    const before = element.previousSibling;
    const shown = before instanceof HTMLElement && before.matches("del.spun");
    if (spun && !shown) element.before(spunWord(element.dataset.spun));
    if (!spun && shown) before.remove();
    updateRestored();
    showTooltip(element);
  }

  async function restore() {
    const text = input.value;
    if (!text.trim()) {
      setStatus("Paste or open some text first.", true);
      input.focus();
      return;
    }
    const button = $("restore");
    button.disabled = true;
    setStatus("Restoring…");
    try {
      const response = await fetch("/v1/restore", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: text, html: pageBox.checked }),
      });
      const data = await response.json();
      if (!response.ok) {
        const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
        throw new Error(detail || response.statusText);
      }
      render(text, data.results[0]);
      const n = data.results[0].edits.length;
      const m = (data.results[0].suggestions || []).length;
      setStatus(`Done: ${n} edit${n === 1 ? "" : "s"}, ${m} suggestion${m === 1 ? "" : "s"}.`);
    } catch (err) {
      setStatus("Could not restore: " + err.message, true);
    } finally {
      button.disabled = false;
    }
  }

  function showTooltip(mark) {
    const confidence = percent(Number(mark.dataset.confidence));
    const words = JSON.parse(mark.dataset.choices);
    const index = Number(mark.dataset.choice);
    const word = words[index];
    const next = words[(index + 1) % words.length] === mark.dataset.spun ? "click to undo" : "click for the next";
    const others = mark.dataset.others ? `; also likely: ${mark.dataset.others}` : "";
    if (!mark.matches(".suggestion") && index === 0) {
      tooltip.textContent =
        `spun: "${mark.dataset.spun}" → restored: "${word}" (confidence ${confidence}${others}; ${next})`;
    } else if (word !== mark.dataset.spun) {
      tooltip.textContent = `"${mark.dataset.spun}" → "${word}" (applied${others}; ${next})`;
    } else {
      tooltip.textContent =
        `may be spun: perhaps "${mark.dataset.restored}" (confidence ${confidence}${others}; ` +
        `${mark.matches(".suggestion") ? "too unsure to change; " : ""}click to apply)`;
    }
    const box = mark.getBoundingClientRect();
    tooltip.style.left = `${window.scrollX + box.left}px`;
    tooltip.style.top = `${window.scrollY + box.bottom + 6}px`;
    tooltip.hidden = false;
  }

  function hideTooltip() {
    tooltip.hidden = true;
  }

  const marks = "mark.edit, button.suggestion";
  output.addEventListener("mouseover", (e) => {
    if (e.target instanceof HTMLElement && e.target.matches(marks)) showTooltip(e.target);
  });
  output.addEventListener("mouseout", hideTooltip);
  output.addEventListener("focusin", (e) => {
    if (e.target instanceof HTMLElement && e.target.matches(marks)) showTooltip(e.target);
  });
  output.addEventListener("click", (e) => {
    if (e.target instanceof HTMLElement && e.target.matches(marks)) nextChoice(e.target);
  });
  output.addEventListener("keydown", (e) => {
    // A button clicks itself on Enter and Space; a marked edit is told here.
    if (e.target instanceof HTMLElement && e.target.matches("mark.edit") && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      nextChoice(e.target);
    }
  });
  output.addEventListener("focusout", hideTooltip);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") hideTooltip();
  });

  $("restore").addEventListener("click", restore);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      restore();
    }
  });

  // A file's bytes as text, in the encoding a browser would pick for them: a byte order mark
  // (kept, so that a download writes it back), else a page's <meta charset> in its first 4 KB,
  // else UTF-8 if the bytes are UTF-8, else Windows-1252. No byte is lost to U+FFFD.
  function decodeFile(bytes, isPage) {
    const boms = [
      [[0xef, 0xbb, 0xbf], "utf-8"],
      [[0xff, 0xfe], "utf-16le"],
      [[0xfe, 0xff], "utf-16be"],
    ];
    for (const [bom, label] of boms) {
      if (bom.every((b, i) => bytes[i] === b)) {
        return { text: new TextDecoder(label, { ignoreBOM: true }).decode(bytes), encoding: label };
      }
    }
    const declared = isPage
      ? new TextDecoder("windows-1252").decode(bytes.subarray(0, 4096))
          .match(/<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)/i)
      : null;
    if (declared) {
      try {
        const decoder = new TextDecoder(declared[1]);
        // A declaration in ASCII bytes cannot be UTF-16 (as browsers read it).
        if (!decoder.encoding.startsWith("utf-16")) {
          return { text: decoder.decode(bytes), encoding: decoder.encoding };
        }
      } catch (err) {
        // An encoding the browser does not know: read the bytes as if nothing were declared.
      }
    }
    try {
      return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "utf-8" };
    } catch (err) {
      return { text: new TextDecoder("windows-1252").decode(bytes), encoding: "windows-1252" };
    }
  }

  // Text in a single-byte encoding (what decodeFile read it with); in a page, a character the
  // encoding cannot write becomes a character reference. Null where that cannot be done: an
  // encoding of several bytes a character, or such a character in plain text.
  function encodeSingleByte(text, encoding, isPage) {
    const table = new TextDecoder(encoding).decode(Uint8Array.from({ length: 256 }, (_, i) => i));
    if (table.length !== 256) return null;
    const byteOf = new Map(Array.from(table, (char, byte) => [char, byte]));
    const out = [];
    for (const char of text) {
      const byte = byteOf.get(char);
      if (byte !== undefined) out.push(byte);
      else if (!isPage) return null;
      else for (const c of `&#${char.codePointAt(0)};`) out.push(c.charCodeAt(0));
    }
    return Uint8Array.from(out);
  }

  let fileEncoding = "utf-8";

  $("file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    pageBox.checked = /\.x?html?$/i.test(file.name) || file.type === "text/html";
    const read = decodeFile(new Uint8Array(await file.arrayBuffer()), pageBox.checked);
    input.value = read.text;
    fileEncoding = read.encoding;
    const as = pageBox.checked ? " as an HTML page" : "";
    const encoding = read.encoding === "utf-8" ? "" : ` (${read.encoding})`;
    setStatus(`Opened ${file.name}${as}${encoding}.`);
  });

  $("diff").addEventListener("change", (e) => {
    output.classList.toggle("diff", e.target.checked);
  });

  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(restored);
      setStatus("Copied the restored text.");
    } catch (err) {
      // Clipboard access needs a secure context or permission; select the text instead.
      const range = document.createRange();
      range.selectNodeContents(output);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      setStatus("Copy was refused by the browser: the text is selected, press Ctrl+C.", true);
    }
  });

  $("download").addEventListener("click", () => {
    const kind = pageBox.checked ? "text/html" : "text/plain";
    // Written back in the encoding the file was read with, so that the page's own charset
    // declaration stays true; UTF-8 for typed text and encodings of several bytes a character.
    const bytes = fileEncoding.startsWith("utf-")
      ? null
      : encodeSingleByte(restored, fileEncoding, pageBox.checked);
    const charset = bytes ? fileEncoding : "utf-8";
    const blob = new Blob([bytes || restored], { type: `${kind};charset=${charset}` });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = pageBox.checked ? "restored.html" : "restored.txt";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
})();
