/*
 * Zhejiang Trade Assistant chat widget. One tag embeds it on any page:
 *
 *   <script src="https://<gateway>/widget.js" data-title="Trade help" data-lang="zh"
 *           data-color="#0b6e4f" data-position="left" defer></script>
 *
 * Everything lives in a Shadow DOM, so the host page's CSS cannot break the widget and the widget's
 * cannot leak out. Bot, staff and user text is only ever put into the page as text nodes (a small
 * Markdown subset -- bold, lists, links -- is built from DOM nodes, never parsed as HTML), and links are
 * kept only when they are http(s), opening in a new tab with rel="noopener noreferrer".
 * The conversation (session id and the last messages) is kept in localStorage, so a reload continues it.
 */
(function () {
  "use strict";
  if (window.__ztaWidgetLoaded) return;
  window.__ztaWidgetLoaded = true;

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var apiBase = (data.api || (script && script.src ? new URL(script.src, location.href).origin : location.origin)).replace(/\/$/, "");
  var explicitLang = data.lang === "en" || data.lang === "zh" ? data.lang : null;
  var uiLang = explicitLang || ((navigator.language || "en").toLowerCase().indexOf("zh") === 0 ? "zh" : "en");
  var color = /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#0b5cad";
  var position = data.position === "left" ? "left" : "right";
  var storageKey = "zta-widget:" + apiBase;
  var MAX_HISTORY = 100;
  var POLL_MS = 15000;

  var TEXT = {
    en: {
      title: "Zhejiang Trade Assistant", open: "Open the trade assistant chat", close: "Close chat",
      placeholder: "Ask about customs codes, the FTZ, Yiwu, shipping…", send: "Send", input: "Your message",
      welcome: "Hello! Ask me about customs codes, the free trade zone, Yiwu, shipping or investing abroad. Answers come with their sources.",
      typing: "The assistant is typing…", sources: "Sources", retry: "Retry",
      offline: "I can't reach the assistant right now. Check your connection and try again.",
      staff: "Staff", log: "Conversation", replies: "Suggested replies"
    },
    zh: {
      title: "浙江经贸助手", open: "打开经贸助手对话", close: "关闭对话",
      placeholder: "可以问监管方式、自贸区、义乌、物流……", send: "发送", input: "您的消息",
      welcome: "您好！可以问我监管方式、自贸试验区、义乌、物流运输或境外投资的问题，回答都会注明来源。",
      typing: "助手正在输入…", sources: "来源", retry: "重试",
      offline: "暂时连接不上助手，请检查网络后重试。",
      staff: "工作人员", log: "对话记录", replies: "推荐回复"
    }
  };
  var t = TEXT[uiLang];
  var title = data.title || t.title;

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(storageKey) || "{}");
      return { sessionId: typeof saved.sessionId === "string" ? saved.sessionId : null, history: Array.isArray(saved.history) ? saved.history : [] };
    } catch (e) {
      return { sessionId: null, history: [] };
    }
  }
  var state = load();
  function save() {
    try {
      localStorage.setItem(storageKey, JSON.stringify({ sessionId: state.sessionId, history: state.history.slice(-MAX_HISTORY) }));
    } catch (e) { /* private mode or quota: the conversation still works, it just won't survive a reload */ }
  }

  // --- DOM helpers: text only, never HTML (static/safe-dom.js, inlined here when served) --------
  /* @include safe-dom.js */

  // --- the widget -------------------------------------------------------------------------------
  var host = el("div", { id: "zta-chat-widget" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style", {
    text:
      ":host{all:initial}" +
      "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif}" +
      ".launcher{position:fixed;bottom:20px;" + position + ":20px;width:56px;height:56px;border-radius:50%;border:0;background:" + color + ";color:#fff;font-size:26px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483646}" +
      ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #f5a623;outline-offset:2px}" +
      ".panel{position:fixed;bottom:88px;" + position + ":20px;width:370px;max-width:calc(100vw - 24px);height:560px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;color:#1d1d1f;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;z-index:2147483647;font-size:15px;line-height:1.45}" +
      ".panel[hidden]{display:none}" +
      "header{display:flex;align-items:center;justify-content:space-between;padding:12px 14px;background:" + color + ";color:#fff}" +
      "header h2{margin:0;font-size:16px;font-weight:600}" +
      "header button{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1;padding:4px 8px}" +
      ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}" +
      ".msg{max-width:88%;padding:8px 11px;border-radius:12px;word-wrap:break-word;overflow-wrap:anywhere}" +
      ".msg p{margin:0 0 6px}.msg p:last-child{margin-bottom:0}.msg ul,.msg ol{margin:4px 0 6px;padding-left:20px}" +
      ".user{align-self:flex-end;background:" + color + ";color:#fff;white-space:pre-wrap}" +
      ".bot,.staff{align-self:flex-start;background:#fff;border:1px solid #e1e4e8}" +
      ".staff{border-color:#f5a623}.who{font-size:12px;font-weight:600;color:#8a5a00;margin-bottom:2px}" +
      ".error{align-self:center;background:#fdecea;color:#8a1c13;border:1px solid #f5c2bd;text-align:center}" +
      ".error button{margin-top:6px}" +
      ".sources{margin-top:6px;font-size:13px;color:#444}.sources ul{margin:2px 0 0;padding-left:18px}" +
      ".msg a{color:#0b57d0}.user a{color:#fff}" +
      ".replies{display:flex;flex-wrap:wrap;gap:6px;padding:8px 12px 0;background:#f6f7f9}" +
      ".replies:empty{display:none}" +
      ".replies button,.error button{border:1px solid " + color + ";background:#fff;color:" + color + ";border-radius:16px;padding:5px 11px;font-size:13px;cursor:pointer}" +
      ".typing{padding:4px 14px;font-size:13px;color:#666;background:#f6f7f9;min-height:0}" +
      ".typing[hidden]{display:none}" +
      "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e1e4e8;background:#fff}" +
      "textarea{flex:1;resize:none;border:1px solid #c9ced6;border-radius:10px;padding:8px 10px;font-size:15px;max-height:110px}" +
      "form button{border:0;background:" + color + ";color:#fff;border-radius:10px;padding:0 14px;font-size:15px;cursor:pointer}" +
      "form button:disabled{opacity:.5;cursor:default}" +
      ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
      "@media (max-width:480px){.panel{left:0;right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}.launcher{bottom:14px;" + position + ":14px}}"
  });
  var launcher = el("button", { className: "launcher", type: "button", "aria-label": t.open, "aria-expanded": "false", "aria-controls": "zta-panel", text: "💬" });
  var closeButton = el("button", { type: "button", "aria-label": t.close, text: "×" });
  var log = el("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": t.log, tabindex: "0" });
  var replies = el("div", { className: "replies", role: "group", "aria-label": t.replies });
  var typing = el("div", { className: "typing", "aria-live": "polite", hidden: "" , text: t.typing });
  var label = el("label", { className: "sr", for: "zta-input", text: t.input });
  var input = el("textarea", { id: "zta-input", rows: "1", maxlength: "2000", placeholder: t.placeholder, "aria-label": t.input });
  var sendButton = el("button", { type: "submit", text: t.send });
  var form = el("form", {}, [label, input, sendButton]);
  var panel = el("div", { className: "panel", id: "zta-panel", role: "dialog", "aria-label": title, hidden: "" }, [
    el("header", {}, [el("h2", { text: title }), closeButton]), log, replies, typing, form
  ]);
  root.appendChild(style);
  root.appendChild(launcher);
  root.appendChild(panel);

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function renderMessage(entry) {
    var node;
    if (entry.from === "user") {
      node = el("div", { className: "msg user", text: entry.text });
    } else if (entry.from === "error") {
      node = el("div", { className: "msg error", role: "alert" }, [el("div", { text: entry.text })]);
    } else {
      node = el("div", { className: "msg " + (entry.from === "staff" ? "staff" : "bot") });
      if (entry.from === "staff") node.appendChild(el("div", { className: "who", text: t.staff }));
      node.appendChild(markdown(entry.text));
      var cited = (entry.citations || []).filter(function (c) { return c && c.title; });
      if (cited.length) {
        var list = el("ul");
        cited.forEach(function (c) { list.appendChild(el("li", {}, [c.source_url ? link(c.title, c.source_url) : document.createTextNode(c.title)])); });
        node.appendChild(el("div", { className: "sources" }, [el("strong", { text: t.sources + ": " }), list]));
      }
    }
    log.appendChild(node);
    return node;
  }

  function showReplies(buttons) {
    while (replies.firstChild) replies.removeChild(replies.firstChild);
    (buttons || []).forEach(function (b) {
      if (!b || !b.title) return;
      var button = el("button", { type: "button", text: b.title });
      button.addEventListener("click", function () { send(b.payload || b.title, b.title); });
      replies.appendChild(button);
    });
  }

  function record(entry) {
    state.history.push(entry);
    if (state.history.length > MAX_HISTORY) state.history = state.history.slice(-MAX_HISTORY);
    save();
    renderMessage(entry);
    scrollDown();
  }

  var busy = false;
  var lastFailed = null;
  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    if (value) typing.removeAttribute("hidden"); else typing.setAttribute("hidden", "");
  }

  function showError(text, retry) {
    var node = renderMessage({ from: "error", text: text });
    if (retry) {
      var again = el("button", { type: "button", text: t.retry });
      again.addEventListener("click", function () { node.remove(); retry(); });
      node.appendChild(again);
    }
    scrollDown();
  }

  function send(payload, shown) {
    if (busy) return;
    var message = String(payload || "").trim();
    if (!message) return;
    if (shown !== null) record({ from: "user", text: shown || message });
    showReplies([]);
    setBusy(true);
    var body = { message: message, session_id: state.sessionId };
    if (explicitLang) body.lang = explicitLang;
    fetch(apiBase + "/api/v1/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) { return { status: response.status, json: json }; });
    }).then(function (result) {
      setBusy(false);
      if (result.status === 200 && Array.isArray(result.json.messages)) {
        lastFailed = null;
        state.sessionId = result.json.session_id || state.sessionId;
        var buttons = [];
        result.json.messages.forEach(function (m) {
          record({ from: "bot", text: m.text || "", citations: m.citations || [] });
          if (m.buttons && m.buttons.length) buttons = m.buttons;
        });
        showReplies(buttons);
        startPolling();
      } else if (result.status >= 500 || result.status === 0) {
        lastFailed = message;
        showError((result.json.error && result.json.error.message) || t.offline, function () { send(lastFailed, null); });
      } else {
        showError((result.json.error && result.json.error.message) || t.offline, null);
      }
    }).catch(function () {
      setBusy(false);
      lastFailed = message;
      showError(t.offline, function () { send(lastFailed, null); });
    });
  }

  // Staff replies to a handoff ticket arrive by polling while the panel is open.
  var pollTimer = null;
  function poll() {
    if (!state.sessionId || panel.hasAttribute("hidden")) return;
    fetch(apiBase + "/api/v1/chat/updates?session_id=" + encodeURIComponent(state.sessionId))
      .then(function (response) { return response.ok ? response.json() : { messages: [] }; })
      .then(function (json) { (json.messages || []).forEach(function (m) { record({ from: "staff", text: m.text || "", citations: [] }); }); })
      .catch(function () { /* offline: the next poll tries again */ });
  }
  function startPolling() {
    if (pollTimer === null && state.sessionId) pollTimer = setInterval(poll, POLL_MS);
  }

  function open() {
    panel.removeAttribute("hidden");
    launcher.setAttribute("aria-expanded", "true");
    input.focus();
    scrollDown();
    poll();
  }
  function close() {
    panel.setAttribute("hidden", "");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hasAttribute("hidden")) open(); else close(); });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") close(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    send(text, text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  // History after a reload, or a welcome line for a new visitor.
  if (state.history.length) state.history.forEach(renderMessage);
  else record({ from: "bot", text: t.welcome, citations: [] });
  startPolling();

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
