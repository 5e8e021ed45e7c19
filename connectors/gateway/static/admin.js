/*
 * Staff knowledge console. The page (templates/console.html) names the view in <body data-view>; this
 * script fetches the JSON API (/api/v1/admin/*) with the session cookie, sends the CSRF token from the
 * page's <meta> with every change, and builds every element with safe-dom.js (text nodes only).
 */
(function () {
  "use strict";
  var body = document.body;
  var view = body.dataset.view, lang = body.dataset.lang, role = body.dataset.role;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var main = document.getElementById("main");
  // The roles the signed-in role includes, from the server (connectors/gateway/auth.py ranks them).
  var heldRoles = (body.dataset.heldRoles || "").split(" ");
  function can(needed) { return heldRoles.indexOf(needed) >= 0; }

  var TEXT = {
    en: {
      loading: "Loading…", failed: "Could not load: ", saved: "Saved.", save: "Save", create: "Create",
      questions_today: "Questions today", questions_week: "Questions this week", answered: "Answered (week)",
      thumbs: "Thumbs up / down (week)", open_tickets: "Open handoff tickets",
      filter: "Filter", all: "all", status: "Status", language: "Language", topic: "Topic", expiring: "Expiring within 30 days",
      new_doc: "New document", title: "Title", body: "Body (Markdown; '## ' starts a passage)", preview: "Preview",
      source_url: "Source URL", source_title: "Source title", source_date: "Source date", valid_from: "Valid from",
      valid_until: "Valid until", confidence: "Confidence", kind: "Kind", zones: "Zones (comma separated)",
      tags: "Tags (comma separated)", slug: "Slug (new documents)", upload: "Upload .md .txt .html .pdf .docx",
      uploaded: "Parsed: review the text, then save to publish.", versions: "Versions", diff: "Diff",
      rollback: "Roll back to this", retire: "Retire", retired: "Retired.", rolled_back: "Rolled back.",
      conflict: "Someone else saved this document meanwhile. Reload to see their version; your text is kept below.",
      question: "Question", search: "Search", hits: "Ranked passages", answer: "The bot would answer",
      not_answered: "Not answered: nothing clears the threshold", score: "score", dense: "dense", coverage: "coverage",
      found_by: "found by", write_answer: "Write an answer", asked: "times asked", thumbs_down: "thumbs down",
      unanswered: "unanswered", no_items: "Nothing here.", open: "open", claimed: "claimed", closed: "closed",
      claim: "Claim", close: "Close", reopen: "Reopen", reply: "Reply to the trader", send: "Send", sent: "Sent: ",
      username: "Username", password: "Password (10+ characters)", role: "Role", active: "Active", add_user: "Add user",
      when: "When", who: "Who", action: "Action", target: "Target", detail: "Detail", transcript: "Transcript", whole_conversation: "Whole conversation",
      edit_other: "Other language version", none_yet: "(none yet: fill in and create it)", document: "Document",
      documents: "Documents", "hit-test": "Hit testing", questions: "Questions queue", conversations: "Conversations",
      tickets: "Handoff tickets", users: "Users", audit: "Audit log",
      other_lang: "zh", forbidden: "Your role cannot open this page.", messages: "messages", user_said: "Trader", bot_said: "Bot"
    },
    zh: {
      loading: "加载中…", failed: "加载失败：", saved: "已保存。", save: "保存", create: "创建",
      questions_today: "今日提问", questions_week: "本周提问", answered: "本周已回答比例",
      thumbs: "本周点赞 / 点踩", open_tickets: "待处理人工工单",
      filter: "筛选", all: "全部", status: "状态", language: "语言", topic: "主题", expiring: "30 天内到期",
      new_doc: "新建文档", title: "标题", body: "正文（Markdown；“## ”开始一个段落）", preview: "预览",
      source_url: "来源链接", source_title: "来源标题", source_date: "来源日期", valid_from: "生效日期",
      valid_until: "失效日期", confidence: "可信度", kind: "类型", zones: "片区（逗号分隔）",
      tags: "标签（逗号分隔）", slug: "标识（新文档）", upload: "上传 .md .txt .html .pdf .docx",
      uploaded: "已解析：请审阅文本，保存后发布。", versions: "版本", diff: "差异",
      rollback: "回滚到此版本", retire: "下线", retired: "已下线。", rolled_back: "已回滚。",
      conflict: "他人已保存了此文档。请重新加载查看对方版本；您的文本保留在下方。",
      question: "问题", search: "检索", hits: "排序结果", answer: "机器人将回答",
      not_answered: "无法回答：没有结果超过阈值", score: "得分", dense: "向量", coverage: "覆盖",
      found_by: "来源", write_answer: "撰写答案", asked: "次提问", thumbs_down: "点踩",
      unanswered: "未回答", no_items: "暂无内容。", open: "待处理", claimed: "处理中", closed: "已关闭",
      claim: "认领", close: "关闭", reopen: "重新打开", reply: "回复客户", send: "发送", sent: "已发送：",
      username: "用户名", password: "密码（至少 10 个字符）", role: "角色", active: "启用", add_user: "添加用户",
      when: "时间", who: "用户", action: "操作", target: "对象", detail: "详情", transcript: "对话记录", whole_conversation: "完整对话",
      edit_other: "另一语言版本", none_yet: "（尚无：填写后创建）", document: "文档",
      documents: "文档", "hit-test": "检索测试", questions: "待解答问题", conversations: "对话记录",
      tickets: "人工工单", users: "用户", audit: "审计日志",
      other_lang: "en", forbidden: "您的角色无权打开此页面。", messages: "条消息", user_said: "客户", bot_said: "机器人"
    }
  };
  var t = TEXT[lang] || TEXT.en;

  // --- API ----------------------------------------------------------------------------------------
  function api(method, path, payload) {
    var options = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (payload instanceof FormData) options.body = payload;
    else if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    return fetch("/api/v1/admin" + path, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.status === 401) { location.href = "/admin/login"; }
        if (!response.ok) {
          var error = new Error((data && data.error && data.error.message) || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  // --- small builders -------------------------------------------------------------------------------
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function notice(text, kind) { return el("p", { className: "notice " + (kind || ""), role: kind === "error" ? "alert" : "status", text: text }); }
  function button(text, onClick, attrs) {
    var b = el("button", Object.assign({ type: "button", text: text }, attrs || {}));
    b.addEventListener("click", onClick);
    return b;
  }
  function field(labelText, input) {
    var id = "f-" + Math.random().toString(36).slice(2);
    input.id = id;
    return el("div", { className: "field" }, [el("label", { for: id, text: labelText }), input]);
  }
  function input(value, attrs) {
    var node = el("input", attrs || {});
    node.value = value == null ? "" : String(value);
    return node;
  }
  function select(options, value, attrs) {
    var node = el("select", attrs || {});
    options.forEach(function (o) {
      var option = el("option", { value: o[0], text: o[1] });
      if (o[0] === value) option.selected = true;
      node.appendChild(option);
    });
    return node;
  }
  function table(headers, rows) {
    var head = el("tr", {}, headers.map(function (h) { return el("th", { scope: "col", text: h }); }));
    var tbody = el("tbody", {}, rows.map(function (cells) {
      return el("tr", {}, cells.map(function (c) { return el("td", {}, [typeof c === "object" && c ? c : document.createTextNode(c == null ? "" : String(c))]); }));
    }));
    return el("table", {}, [el("thead", {}, [head]), tbody]);
  }
  function when(iso) { return iso ? new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : ""; }
  function pageLink(text, href) { return el("a", { href: href, text: text }); }
  function section(titleText, children) { return el("section", { className: "card" }, [el("h2", { text: titleText })].concat(children)); }
  function fail(error) { main.appendChild(notice(t.failed + error.message, "error")); }
  function params() { return new URLSearchParams(location.search); }
  function list(text) { return String(text || "").split(/[,，]/).map(function (s) { return s.trim(); }).filter(Boolean); }

  // --- dashboard ------------------------------------------------------------------------------------
  function dashboard() {
    api("GET", "/stats").then(function (s) {
      var share = s.answered_share_week == null ? "–" : Math.round(s.answered_share_week * 100) + "%";
      main.appendChild(el("div", { className: "tiles" }, [
        [t.questions_today, s.questions_today], [t.questions_week, s.questions_week], [t.answered, share],
        [t.thumbs, s.thumbs_up_week + " / " + s.thumbs_down_week], [t.open_tickets, s.open_tickets]
      ].map(function (tile) {
        return el("div", { className: "tile" }, [el("span", { className: "figure", text: String(tile[1]) }), el("span", { text: tile[0] })]);
      })));
    }).catch(fail);
  }

  // --- documents ------------------------------------------------------------------------------------
  function documents() {
    var status = select([["", t.all], ["published", "published"], ["retired", "retired"]], params().get("status") || "");
    var language = select([["", t.all], ["en", "English"], ["zh", "中文"]], params().get("lang") || "");
    var topic = input(params().get("topic") || "", { maxlength: "40" });
    var expiring = el("input", { type: "checkbox" });
    var results = el("div");
    var form = el("form", { className: "filters" }, [field(t.status, status), field(t.language, language), field(t.topic, topic),
      field(t.expiring, expiring), el("button", { type: "submit", text: t.filter })]);
    form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
    main.appendChild(section(t.documents, [can("editor") ? pageLink(t.new_doc, "/admin/edit") : null, form, results]));
    function load() {
      var query = new URLSearchParams();
      if (status.value) query.set("status", status.value);
      if (language.value) query.set("lang", language.value);
      if (topic.value.trim()) query.set("topic", topic.value.trim());
      clear(results).appendChild(notice(t.loading));
      api("GET", "/documents?" + query).then(function (docs) {
        var soon = new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10);
        if (expiring.checked) docs = docs.filter(function (d) { return d.document.valid_until && d.document.valid_until <= soon; });
        clear(results).appendChild(docs.length ? table([t.document, t.language, t.topic, t.status, "v", t.valid_until, t.when], docs.map(function (d) {
          return [pageLink(d.document.title, "/admin/edit?doc=" + encodeURIComponent(d.doc_id)), d.document.lang, d.document.topic,
            d.status, d.version, d.document.valid_until || "", when(d.updated_at)];
        })) : notice(t.no_items));
      }).catch(function (e) { clear(results).appendChild(notice(t.failed + e.message, "error")); });
    }
    load();
  }

  // --- edit: both language versions side by side ------------------------------------------------------
  function edit() {
    var docId = params().get("doc");
    var columns = el("div", { className: "columns" });
    main.appendChild(columns);
    if (!docId) {
      var first = params().get("lang") === "zh" ? "zh" : "en";
      editor(columns, null, first, { body: params().get("question") ? "## " + params().get("question") + "\n\n" : "" });
      return;
    }
    api("GET", "/documents/" + encodeURIComponent(docId)).then(function (record) {
      editor(columns, record, record.document.lang, record.document);
      var other = record.document.translation || record.document.id.replace(/\.(en|zh)$/, record.document.lang === "en" ? ".zh" : ".en");
      api("GET", "/documents/" + encodeURIComponent(other)).then(function (otherRecord) {
        editor(columns, otherRecord, otherRecord.document.lang, otherRecord.document);
      }).catch(function () {
        editor(columns, null, record.document.lang === "en" ? "zh" : "en", { slug: record.document.id.replace(/\.(en|zh)$/, ""), topic: record.document.topic,
          sources: record.document.sources, source_date: record.document.source_date, zones: record.document.zones, tags: record.document.tags }, true);
      });
    }).catch(fail);
  }

  function editor(columns, record, docLang, data, isOther) {
    var source = (data.sources && data.sources[0]) || {};
    var f = {
      title: input(data.title, { maxlength: "200", required: "" }),
      slug: input(data.slug || "", { pattern: "[a-z0-9][a-z0-9-]*", maxlength: "100" }),
      topic: input(data.topic || "", { pattern: "[a-z][a-z-]*", maxlength: "40", required: "" }),
      source_url: input(source.url || "", { type: "url", required: "" }),
      source_title: input(source.title || "", { maxlength: "300" }),
      source_date: input(data.source_date || "", { type: "date" }),
      valid_from: input(data.valid_from || "", { type: "date" }),
      valid_until: input(data.valid_until || "", { type: "date" }),
      confidence: select([["high", "high"], ["medium", "medium"], ["low", "low"]], data.confidence || "medium"),
      kind: select([["fact", "fact"], ["howto", "howto"]], data.kind || "fact"),
      zones: input((data.zones || []).join(", ")),
      tags: input((data.tags || []).join(", ")),
      body: el("textarea", { rows: "16", required: "" })
    };
    f.body.value = data.body || "";
    var preview = el("div", { className: "preview", "aria-label": t.preview });
    function refresh() { clear(preview).appendChild(markdown(f.body.value)); }
    f.body.addEventListener("input", refresh);
    refresh();
    var status = el("div", { "aria-live": "polite" });
    var heading = (docLang === "zh" ? "中文" : "English") + (record ? " · " + record.doc_id + " · v" + record.version + " · " + record.status : " · " + (isOther ? t.none_yet : t.new_doc));
    var fields = [field(t.title, f.title)];
    if (!record) fields.push(field(t.slug, f.slug));
    fields = fields.concat([field(t.topic, f.topic), field(t.source_url, f.source_url), field(t.source_title, f.source_title),
      field(t.source_date, f.source_date), field(t.valid_from, f.valid_from), field(t.valid_until, f.valid_until),
      field(t.confidence, f.confidence), field(t.kind, f.kind), field(t.zones, f.zones), field(t.tags, f.tags), field(t.body, f.body),
      el("h3", { text: t.preview }), preview]);
    var form = el("form", { className: "editor", lang: docLang === "zh" ? "zh-CN" : "en" }, fields);
    var column = el("section", { className: "card column" }, [el("h2", { text: heading }), status]);
    if (!record && can("editor")) column.appendChild(uploader(f, status));
    column.appendChild(form);
    if (can("editor")) form.appendChild(el("button", { type: "submit", text: record ? t.save : t.create }));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var payload = {
        title: f.title.value.trim(), body: f.body.value, lang: docLang, topic: f.topic.value.trim(), source_url: f.source_url.value.trim(),
        source_title: f.source_title.value.trim() || null, source_date: f.source_date.value || null, valid_from: f.valid_from.value || null,
        valid_until: f.valid_until.value || null, confidence: f.confidence.value, kind: f.kind.value,
        zones: list(f.zones.value), tags: list(f.tags.value)
      };
      if (record) payload.version = record.version; else if (f.slug.value.trim()) payload.slug = f.slug.value.trim();
      var request = record ? api("PUT", "/documents/" + encodeURIComponent(record.doc_id), payload) : api("POST", "/documents", payload);
      request.then(function (saved) {
        if (!record) { location.href = "/admin/edit?doc=" + encodeURIComponent(saved.doc_id); return; }
        record = saved;
        clear(status).appendChild(notice(t.saved + " v" + saved.version, "ok"));
        column.querySelector("h2").textContent = (docLang === "zh" ? "中文" : "English") + " · " + saved.doc_id + " · v" + saved.version + " · " + saved.status;
        history(column, saved);
      }).catch(function (error) {
        clear(status).appendChild(notice(error.status === 409 ? t.conflict + " (" + error.message + ")" : error.message, "error"));
      });
    });
    if (record) {
      if (can("editor") && record.status === "published") {
        column.appendChild(button(t.retire, function () {
          api("DELETE", "/documents/" + encodeURIComponent(record.doc_id)).then(function () { location.reload(); })
            .catch(function (error) { clear(status).appendChild(notice(error.message, "error")); });
        }, { className: "danger" }));
      }
      history(column, record);
    }
    columns.appendChild(column);
  }

  function uploader(f, status) {
    var file = el("input", { type: "file", accept: ".md,.txt,.html,.htm,.pdf,.docx" });
    file.addEventListener("change", function () {
      if (!file.files.length) return;
      var data = new FormData();
      data.append("file", file.files[0]);
      api("POST", "/uploads", data).then(function (parsed) {
        if (!f.title.value) f.title.value = parsed.title;
        f.body.value = parsed.body;
        f.body.dispatchEvent(new Event("input"));
        clear(status).appendChild(notice(t.uploaded + (parsed.warnings.length ? " " + parsed.warnings.join(" ") : ""), "ok"));
      }).catch(function (error) { clear(status).appendChild(notice(error.message, "error")); });
    });
    return field(t.upload, file);
  }

  function history(column, record) {
    var old = column.querySelector(".history");
    if (old) old.remove();
    var box = el("div", { className: "history" }, [el("h3", { text: t.versions })]);
    var diffBox = el("pre", { className: "diff" });
    column.appendChild(box);
    api("GET", "/documents/" + encodeURIComponent(record.doc_id) + "/versions").then(function (versions) {
      box.appendChild(table(["v", t.action, t.who, t.when, ""], versions.slice().reverse().map(function (v) {
        var actions = el("span");
        if (v.version > 1) actions.appendChild(button(t.diff, function () {
          api("GET", "/documents/" + encodeURIComponent(record.doc_id) + "/diff?from=" + (v.version - 1) + "&to=" + v.version).then(function (d) {
            clear(diffBox);
            d.lines.forEach(function (line) {
              var kind = line[0] === "+" ? "add" : line[0] === "-" ? "del" : "";
              diffBox.appendChild(el("span", { className: kind, text: line + "\n" }));
            });
          });
        }));
        if (can("editor") && v.version !== record.version) actions.appendChild(button(t.rollback + " (v" + v.version + ")", function () {
          api("POST", "/documents/" + encodeURIComponent(record.doc_id) + "/rollback?version=" + v.version).then(function () { location.reload(); })
            .catch(function (error) { box.appendChild(notice(error.message, "error")); });
        }));
        return [v.version, v.action + " · " + v.status, v.author, when(v.created_at), actions];
      })));
      box.appendChild(diffBox);
    });
  }

  // --- hit testing ----------------------------------------------------------------------------------
  function hitTest() {
    var question = el("textarea", { rows: "2", maxlength: "2000", required: "" });
    question.value = params().get("q") || "";
    var language = select([["", "auto"], ["en", "English"], ["zh", "中文"]], "");
    var out = el("div");
    var form = el("form", {}, [field(t.question, question), field(t.language, language), el("button", { type: "submit", text: t.search })]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      clear(out).appendChild(notice(t.loading));
      api("POST", "/hit-test", { question: question.value, lang: language.value || null }).then(function (r) {
        clear(out);
        out.appendChild(section(t.answer, [r.answered ? null : notice(t.not_answered + (r.reason ? " (" + r.reason + ")" : "")),
          el("div", { className: "answer" }, [markdown(r.answer.text)]),
          el("ul", {}, r.answer.citations.map(function (c) { return el("li", {}, [link(c.title, c.source_url)]); }))]));
        out.appendChild(section(t.hits, [table(["#", t.document, t.score, t.dense, t.coverage, t.found_by, ""], r.hits.map(function (h) {
          return [h.rank, el("span", {}, [pageLink(h.title, "/admin/edit?doc=" + encodeURIComponent(h.doc_id)), el("br"), el("small", { text: h.section + " · " + h.lang })]),
            h.score.toFixed(4), h.dense_similarity.toFixed(3), h.lexical_coverage.toFixed(2),
            h.found_by.map(function (name) { return name + " #" + h.ranks[name]; }).join(", ") + (h.exact_match ? " · exact" : ""),
            el("small", { text: h.text.slice(0, 200) })];
        }))]));
      }).catch(function (error) { clear(out).appendChild(notice(error.message, "error")); });
    });
    main.appendChild(section(t["hit-test"], [form]));
    main.appendChild(out);
    if (question.value) form.requestSubmit();
  }

  // --- questions queue --------------------------------------------------------------------------------
  function questions() {
    api("GET", "/questions").then(function (groups) {
      main.appendChild(section(t.questions, [groups.length ? el("ol", { className: "groups" }, groups.map(function (g) {
        var kinds = g.questions.map(function (q) { return q.kind === "thumbs_down" ? t.thumbs_down : t.unanswered; });
        var unique = kinds.filter(function (k, i) { return kinds.indexOf(k) === i; });
        return el("li", { className: "card" }, [
          el("strong", { text: g.question }), el("span", { className: "badge", text: g.count + " " + t.asked }),
          el("span", { className: "badge", text: unique.join(" / ") + " · " + g.lang }),
          el("ul", {}, g.questions.slice(0, 8).map(function (q) { return el("li", { text: q.text + (q.comment ? " — " + q.comment : "") + " (" + when(q.at) + ")" }); })),
          can("editor") ? pageLink(t.write_answer, "/admin/edit?question=" + encodeURIComponent(g.question) + "&lang=" + g.lang) : null,
          " ", pageLink(t["hit-test"], "/admin/hit-test?q=" + encodeURIComponent(g.question))
        ].map(function (c) { return typeof c === "string" ? document.createTextNode(c) : c; }));
      })) : notice(t.no_items)]));
    }).catch(fail);
  }

  // --- conversations ------------------------------------------------------------------------------------
  function conversations() {
    var query = input(params().get("q") || "", { type: "search", maxlength: "200" });
    var results = el("div"), transcript = el("div");
    var form = el("form", { className: "filters" }, [field(t.search, query), el("button", { type: "submit", text: t.search })]);
    form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
    main.appendChild(el("div", { className: "columns" }, [section(t.conversations, [form, results]), el("div", { className: "column" }, [transcript])]));
    function load() {
      api("GET", "/conversations?q=" + encodeURIComponent(query.value)).then(function (rows) {
        clear(results).appendChild(rows.length ? table([t.who, t.when, t.messages, ""], rows.map(function (c) {
          return [button(c.sender_id, function () { show(c.sender_id); }, { className: "link" }), when(c.last_at), c.messages, c.preview];
        })) : notice(t.no_items));
      }).catch(function (error) { clear(results).appendChild(notice(error.message, "error")); });
    }
    function show(senderId) {
      api("GET", "/conversations/" + encodeURIComponent(senderId)).then(function (turns) {
        clear(transcript).appendChild(section(t.transcript + " · " + senderId, turns.map(function (turn) {
          return el("div", { className: "turn " + turn.who }, [el("small", { text: (turn.who === "user" ? t.user_said : t.bot_said) + " · " + when(turn.at) }), markdown(turn.text)]);
        })));
      }).catch(function (error) { clear(transcript).appendChild(notice(error.message, "error")); });
    }
    load();
    if (params().get("sender")) show(params().get("sender"));
  }

  // --- handoff tickets -------------------------------------------------------------------------------
  function tickets() {
    var status = select([["open", t.open], ["claimed", t.claimed], ["closed", t.closed], ["", t.all]], params().get("status") || "open");
    var results = el("div");
    status.addEventListener("change", load);
    main.appendChild(section(t.tickets, [field(t.status, status), results]));
    function load() {
      api("GET", "/tickets" + (status.value ? "?status=" + status.value : "")).then(function (rows) {
        clear(results);
        if (!rows.length) { results.appendChild(notice(t.no_items)); return; }
        rows.forEach(function (ticket) { results.appendChild(ticketCard(ticket, load)); });
      }).catch(function (error) { clear(results).appendChild(notice(error.message, "error")); });
    }
    load();
  }

  function ticketCard(ticket, reload) {
    var card = el("article", { className: "card ticket" }, [
      el("h3", { text: "#" + ticket.id + " · " + (t[ticket.status] || ticket.status) + " · " + ticket.channel + " · " + ticket.sender_id }),
      el("p", { text: ticket.question }), el("small", { text: when(ticket.created_at) })
    ]);
    var log = el("details", {}, [el("summary", { text: t.transcript })].concat(ticket.transcript.map(function (turn) {
      return el("div", { className: "turn " + turn.role }, [el("small", { text: turn.role === "user" ? t.user_said : t.bot_said }), markdown(turn.text || "")]);
    })));
    card.appendChild(log);
    // The ticket keeps the turns that led to the handoff; the whole history is on the conversations page.
    card.appendChild(el("p", {}, [pageLink(t.whole_conversation, "/admin/conversations?sender=" + encodeURIComponent(ticket.sender_id))]));
    if (can("editor")) {
      var next = ticket.status === "open" ? [["claimed", t.claim], ["closed", t.close]] : ticket.status === "claimed" ? [["closed", t.close]] : [["open", t.reopen]];
      next.forEach(function (n) {
        card.appendChild(button(n[1], function () { api("POST", "/tickets/" + ticket.id + "/status", { status: n[0] }).then(reload); }));
      });
      var text = el("textarea", { rows: "2", maxlength: "4000" });
      var result = el("span", { "aria-live": "polite" });
      var form = el("form", {}, [field(t.reply, text), el("button", { type: "submit", text: t.send }), result]);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!text.value.trim()) return;
        api("POST", "/tickets/" + ticket.id + "/reply", { text: text.value.trim() }).then(function (r) {
          result.textContent = t.sent + r.outcome; text.value = "";
        }).catch(function (error) { result.textContent = error.message; });
      });
      card.appendChild(form);
    }
    return card;
  }

  // --- users (admin) ----------------------------------------------------------------------------------
  function users() {
    var results = el("div"), status = el("div", { "aria-live": "polite" });
    var name = input("", { required: "", pattern: "[A-Za-z0-9_.@-]{3,80}" });
    var password = input("", { type: "password", required: "", minlength: "10", autocomplete: "new-password" });
    var newRole = select([["viewer", "viewer"], ["editor", "editor"], ["admin", "admin"]], "editor");
    var form = el("form", { className: "filters" }, [field(t.username, name), field(t.password, password), field(t.role, newRole), el("button", { type: "submit", text: t.add_user })]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      api("POST", "/users", { username: name.value, password: password.value, role: newRole.value }).then(function () {
        name.value = password.value = ""; load();
      }).catch(function (error) { clear(status).appendChild(notice(error.message, "error")); });
    });
    main.appendChild(section(t.users, [status, results, form]));
    function change(username, patch) {
      api("PATCH", "/users/" + encodeURIComponent(username), patch).then(load)
        .catch(function (error) { clear(status).appendChild(notice(error.message, "error")); load(); });
    }
    function load() {
      api("GET", "/users").then(function (rows) {
        clear(results).appendChild(table([t.username, t.role, t.active, t.when], rows.map(function (u) {
          var roleSelect = select([["viewer", "viewer"], ["editor", "editor"], ["admin", "admin"]], u.role, { "aria-label": t.role + " " + u.username });
          roleSelect.addEventListener("change", function () { change(u.username, { role: roleSelect.value }); });
          var active = el("input", { type: "checkbox", "aria-label": t.active + " " + u.username });
          active.checked = u.active;
          active.addEventListener("change", function () { change(u.username, { active: active.checked }); });
          return [u.username, roleSelect, active, when(u.created_at)];
        })));
      }).catch(function (error) { clear(results).appendChild(notice(error.message, "error")); });
    }
    load();
  }

  // --- audit log (admin) ------------------------------------------------------------------------------
  function audit() {
    api("GET", "/audit").then(function (rows) {
      main.appendChild(section(t.audit, [rows.length ? table([t.when, t.who, t.action, t.target, t.detail], rows.map(function (r) {
        return [when(r.created_at), r.actor, r.action, r.target, JSON.stringify(r.detail)];
      })) : notice(t.no_items)]));
    }).catch(fail);
  }

  var VIEWS = { dashboard: dashboard, documents: documents, edit: edit, "hit-test": hitTest, questions: questions,
    conversations: conversations, tickets: tickets, users: users, audit: audit };
  if (view === "forbidden") main.appendChild(notice(t.forbidden, "error"));
  else if (VIEWS[view]) VIEWS[view]();
})();
