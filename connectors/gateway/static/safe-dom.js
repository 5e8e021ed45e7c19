/*
 * Safe DOM building, shared by the chat widget (inlined into /widget.js when it is served) and the staff
 * console (/admin/static/safe-dom.js). Text is only ever put into the page as text nodes; a small
 * Markdown subset (bold, lists, links) is built from DOM nodes, never parsed as HTML; links survive only
 * when they are http(s), and open in a new tab with rel="noopener noreferrer".
 */
function el(tag, attrs, children) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (key) {
    if (key === "text") node.textContent = attrs[key];
    else if (key === "className") node.className = attrs[key];
    else node.setAttribute(key, attrs[key]);
  });
  (children || []).forEach(function (child) { if (child) node.appendChild(child); });
  return node;
}
function safeUrl(url) {
  try {
    var parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (e) { return null; }
}
function link(text, url) {
  var href = safeUrl(url);
  if (!href) return document.createTextNode(text);
  return el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: text });
}
// Inline Markdown: **bold** and [text](http...) links; everything else stays literal text.
function inline(parent, text) {
  var pattern = /\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  var last = 0, match;
  while ((match = pattern.exec(text)) !== null) {
    if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
    if (match[1] !== undefined) parent.appendChild(el("strong", { text: match[1] }));
    else parent.appendChild(link(match[2], match[3]));
    last = pattern.lastIndex;
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
}
// Blocks: paragraphs separated by blank lines; "- " and "1. " lines become lists.
function markdown(text) {
  var container = el("div", { className: "md" });
  String(text || "").split(/\n{2,}/).forEach(function (block) {
    var lines = block.split("\n");
    var bullets = lines.every(function (l) { return /^\s*[-•]\s+/.test(l); });
    var numbered = lines.every(function (l) { return /^\s*\d+[.)]\s+/.test(l); });
    if (bullets || numbered) {
      var list = el(numbered ? "ol" : "ul");
      lines.forEach(function (l) {
        var item = el("li");
        inline(item, l.replace(/^\s*([-•]|\d+[.)])\s+/, ""));
        list.appendChild(item);
      });
      container.appendChild(list);
    } else {
      var p = el("p");
      lines.forEach(function (l, i) {
        if (i) p.appendChild(el("br"));
        inline(p, l);
      });
      container.appendChild(p);
    }
  });
  return container;
}
