/* The console's live parts, in plain JavaScript: forms that call the JSON API with the session
   (errors shown at their fields, in the API's words), progress bars, log tails and charts that poll
   the API, the memory plan as a service is typed, the chat playground streamed through the
   gateway, uploads, and the annotation tool. Every part is found by its data- attribute; the page
   carries no inline script (the content security policy allows none). */
(function () {
  "use strict";

  const POLL_MS = 1000 * parseFloat(document.body.dataset.pollSeconds || "2");

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  // Calls the API with the session; resolves to {ok, status, data} (data: the JSON answer or null).
  async function api(method, url, body, headers) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: Object.assign({"Accept": "application/json", "X-CSRFToken": csrfToken()}, headers || {}),
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      return {ok: false, status: 0, data: {errors: [{attr: null, detail: "The platform cannot be reached; check your connection and try again."}]}};
    }
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.indexOf("json") >= 0) {
      try { data = await response.json(); } catch (error) { data = null; }
    }
    if (!response.ok && !(data && data.errors)) {
      data = {errors: [{attr: null, detail: "The platform answered " + response.status + " " + response.statusText + "."}]};
    }
    return {ok: response.ok, status: response.status, data: data};
  }

  function getJSON(url) {
    return api("GET", url);
  }

  // Every row of a paged list, following its `next` links (at most `pages` pages).
  async function getAll(url, pages) {
    const rows = [];
    let next = url;
    for (let page = 0; next && page < (pages || 50); page += 1) {
      const answer = await getJSON(next);
      if (!answer.ok) break;
      rows.push.apply(rows, answer.data.results || answer.data);
      next = answer.data.next || null;
    }
    return rows;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values && values[name] !== undefined ? encodeURIComponent(values[name]) : "";
    });
  }

  function text(element, value) {
    if (element) element.textContent = value;
  }

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(function ([name, value]) {
      if (name === "text") node.textContent = value;
      else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { node.append(child); });
    return node;
  }

  // --- forms that call the API -----------------------------------------------------------------

  // The value a field gives the request body, or undefined to leave it out.
  function fieldValue(field) {
    const type = field.dataset.type || "";
    if (field.type === "checkbox" && type !== "list-item") return field.checked;
    if (field.multiple) return Array.from(field.selectedOptions).map(function (o) { return o.value; });
    const raw = field.value;
    if (raw === "" && !("keepEmpty" in field.dataset)) return type === "nullable" ? null : undefined;
    switch (type) {
      case "int": return /^-?\d+$/.test(raw.trim()) ? parseInt(raw, 10) : raw;
      case "float": return raw.trim() !== "" && !isNaN(Number(raw)) ? Number(raw) : raw;
      case "bool": return raw === "true";
      case "lines": return raw.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
      case "names": return raw.split("\n").map(function (s) { return s.trim(); }).filter(Boolean).map(function (name) { return {name: name}; });
      case "ints": return raw.split(",").map(function (s) { return s.trim(); }).filter(Boolean).map(function (s) { return /^-?\d+$/.test(s) ? parseInt(s, 10) : s; });
      case "csv": return raw.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      case "json":
        try { return JSON.parse(raw); } catch (error) { return raw; }
      default: return raw;
    }
  }

  function setPath(target, path, value) {
    const parts = path.split(".");
    let node = target;
    parts.forEach(function (part, index) {
      const last = index === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[index + 1]);
      if (last) node[part] = value;
      else {
        if (node[part] === undefined) node[part] = nextIsIndex ? [] : {};
        node = node[part];
      }
    });
  }

  function compact(value) {
    if (Array.isArray(value)) return value.filter(function (v) { return v !== undefined; }).map(compact);
    if (value && typeof value === "object") {
      Object.keys(value).forEach(function (k) { value[k] = compact(value[k]); });
    }
    return value;
  }

  function formBody(form) {
    const body = {};
    Array.from(form.elements).forEach(function (field) {
      if (!field.name || field.disabled || field.name === "csrfmiddlewaretoken" || "skip" in field.dataset) return;
      if (field.type === "radio" && !field.checked) return;
      if (field.type === "checkbox" && field.dataset.type === "list-item") {
        if (field.checked) {
          const list = body[field.name] || [];
          list.push(field.value);
          body[field.name] = list;
        }
        return;
      }
      const value = fieldValue(field);
      if (value !== undefined) setPath(body, field.name, value);
    });
    Array.from(form.querySelectorAll("[data-type=list-item][name]")).forEach(function (field) {
      if (!(field.name in body)) body[field.name] = [];
    });
    return compact(body);
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach(function (node) { node.textContent = ""; node.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    const summary = form.querySelector(".form-errors");
    if (summary) { summary.textContent = ""; summary.hidden = true; }
  }

  // Puts each error at its field (the API's `attr`, or the nearest field above it), the rest in
  // the form's summary; every error is also listed in the summary, which screen readers announce.
  function showErrors(form, errors) {
    const summary = form.querySelector(".form-errors");
    const list = el("ul");
    (errors || []).forEach(function (error) {
      let attr = error.attr || "";
      let slot = null;
      while (attr) {
        slot = form.querySelector('[data-error-for="' + CSS.escape(attr) + '"]');
        if (slot) break;
        attr = attr.indexOf(".") >= 0 ? attr.slice(0, attr.lastIndexOf(".")) : "";
      }
      const label = error.attr ? error.attr + ": " : "";
      list.append(el("li", {text: label + error.detail}));
      if (slot) {
        slot.hidden = false;
        slot.textContent = (slot.textContent ? slot.textContent + " " : "") + error.detail;
        const field = form.querySelector('[name="' + CSS.escape(slot.dataset.errorFor) + '"]');
        if (field) field.setAttribute("aria-invalid", "true");
      }
    });
    if (summary) {
      summary.hidden = false;
      summary.replaceChildren(el("p", {text: "The platform refused this:"}), list);
      summary.focus();
    }
  }

  function initApiForm(form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      clearErrors(form);
      const button = event.submitter || form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      const method = (form.dataset.method || "POST").toUpperCase();
      const body = method === "DELETE" ? undefined : formBody(form);
      // One key per submission: a retry after a lost answer creates nothing twice.
      const headers = method === "POST" ? {"Idempotency-Key": form.dataset.idempotencyKey || (form.dataset.idempotencyKey = newKey())} : {};
      const result = await api(method, form.dataset.api, body, headers);
      if (button) button.disabled = false;
      if (!result.ok) {
        if (result.status !== 409 || !/idempotency/.test(JSON.stringify(result.data))) delete form.dataset.idempotencyKey;
        showErrors(form, result.data && result.data.errors);
        return;
      }
      delete form.dataset.idempotencyKey;
      form.dispatchEvent(new CustomEvent("api:done", {detail: result.data, bubbles: true}));
      if (form.dataset.next) window.location.assign(fill(form.dataset.next, result.data || {}));
      else if ("reload" in form.dataset) window.location.reload();
      else if (form.dataset.done) {
        const status = form.querySelector(".form-done");
        if (status) { status.hidden = false; status.textContent = form.dataset.done; }
      }
    });
  }

  // --- charts ------------------------------------------------------------------------------------

  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

  function chart(canvas, kind, labels, datasets, options) {
    if (!window.Chart) return null;
    const made = new window.Chart(canvas, {
      type: kind,
      data: {labels: labels, datasets: datasets.map(function (set, index) {
        return Object.assign({borderColor: PALETTE[index % PALETTE.length], backgroundColor: PALETTE[index % PALETTE.length],
                              pointRadius: 2, borderWidth: 2, tension: 0.1}, set);
      })},
      options: Object.assign({responsive: true, maintainAspectRatio: false, animation: false,
                              plugins: {legend: {display: datasets.length > 1}}}, options || {}),
    });
    canvas.chart = made;
    return made;
  }

  function readJSON(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // A chart whose data the page carries (a json_script): {kind, labels, datasets, x, y}.
  function initStaticChart(canvas) {
    const spec = readJSON(canvas.dataset.chart);
    if (!spec) return;
    const scales = {};
    if (spec.x) scales.x = {title: {display: true, text: spec.x}};
    if (spec.y) scales.y = {title: {display: true, text: spec.y}, beginAtZero: spec.kind === "bar"};
    if (spec.stacked) { scales.x = Object.assign(scales.x || {}, {stacked: true}); scales.y = Object.assign(scales.y || {}, {stacked: true}); }
    chart(canvas, spec.kind || "line", spec.labels || [], spec.datasets, {scales: scales,
      parsing: spec.parsing === undefined ? true : spec.parsing});
  }

  // Metric curves of training jobs, polled while any of them runs: `data-metrics` lists
  // {label, url} (the API's metrics endpoint); `data-metric` the metric shown, chosen by a select.
  function initMetricChart(canvas) {
    const series = JSON.parse(canvas.dataset.metrics);
    const picker = canvas.dataset.picker ? document.getElementById(canvas.dataset.picker) : null;
    const count = canvas.dataset.count ? document.getElementById(canvas.dataset.count) : null;
    let made = null;
    async function load() {
      const metric = picker ? picker.value : canvas.dataset.metric;
      const sets = [];
      let points = 0;
      for (const entry of series) {
        const rows = await getAll(entry.url + "?name=" + encodeURIComponent(metric) + "&page_size=100");
        points += rows.length;
        sets.push({label: entry.label, data: rows.map(function (row) { return {x: row.step, y: row.value}; })});
      }
      if (count) count.textContent = String(points);
      canvas.dataset.points = String(points);
      if (!made) {
        made = chart(canvas, "line", [], sets, {parsing: false,
          scales: {x: {type: "linear", title: {display: true, text: "step"}}, y: {title: {display: true, text: metric}}}});
      } else {
        made.data.datasets.forEach(function (set, index) { set.data = sets[index].data; });
        made.options.scales.y.title.text = metric;
        made.update();
      }
    }
    if (picker) picker.addEventListener("change", load);
    load();
    if ("live" in canvas.dataset) {
      const timer = setInterval(async function () {
        await load();
        const phase = document.querySelector("[data-phase]");
        if (phase && /succeeded|failed|stopped/.test(phase.dataset.phase)) clearInterval(timer);
      }, POLL_MS);
    }
  }

  // --- polling of resources ------------------------------------------------------------------------

  // An element that shows fields of an API resource and re-reads it until it is done:
  // children with data-field="a.b" show that field; a <progress data-progress> shows
  // processed/total; `data-until` is a regular expression of the `status`/`phase` that ends it.
  function initPoll(root) {
    const until = new RegExp(root.dataset.until || "succeeded|failed|stopped|ready");
    async function tick() {
      const answer = await getJSON(root.dataset.poll);
      if (!answer.ok) return true;
      const data = answer.data;
      root.querySelectorAll("[data-field]").forEach(function (node) {
        const value = node.dataset.field.split(".").reduce(function (v, k) { return v == null ? v : v[k]; }, data);
        node.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
      });
      const bar = root.querySelector("progress[data-progress]");
      if (bar) {
        const [done, total] = bar.dataset.progress.split("/");
        if (data[total]) { bar.max = data[total]; bar.value = data[done]; }
        else bar.removeAttribute("value");
        if (until.test(data.status) && data.status === "succeeded") { bar.max = 1; bar.value = 1; }
      }
      const state = data.status && data.status.status ? data.status.status : (data.status || data.phase);
      root.dataset.state = state;
      if (until.test(String(state))) {
        root.dispatchEvent(new CustomEvent("poll:done", {detail: data, bubbles: true}));
        if ("reloadWhenDone" in root.dataset) window.location.reload();
        return false;
      }
      return true;
    }
    (async function loop() {
      if (await tick()) setTimeout(loop, POLL_MS);
    })();
  }

  // The last lines of a workload's log (the API's tail), re-read while it runs.
  function initLogTail(pre) {
    async function tick() {
      const answer = await getJSON(pre.dataset.logTail);
      if (answer.ok) {
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent = (answer.data.lines || []).join("\n") || "No log lines yet.";
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      } else if (answer.status === 404) {
        pre.textContent = "No log yet: the workload has not started a replica.";
      }
      const phase = document.querySelector("[data-phase]");
      return !(phase && /succeeded|failed|stopped/.test(phase.dataset.phase) && pre.dataset.once);
    }
    (async function loop() {
      const more = await tick();
      pre.dataset.once = "1";
      if (more) setTimeout(loop, POLL_MS);
    })();
  }

  // The phase of the page's workload: reloads the page when it changes, so what depends on it
  // (buttons, events) follows.
  function initPhase(node) {
    if (!node.dataset.phaseUrl || /succeeded|failed|stopped/.test(node.dataset.phase)) return;
    const timer = setInterval(async function () {
      const answer = await getJSON(node.dataset.phaseUrl);
      if (!answer.ok) return;
      const phase = answer.data.phase || (answer.data.state && answer.data.state.status) || "";
      const message = node.querySelector("[data-message]");
      if (message && answer.data.status && answer.data.status.message !== undefined) message.textContent = answer.data.status.message;
      if (message && answer.data.state && answer.data.state.message !== undefined) message.textContent = answer.data.state.message;
      if (phase && phase !== node.dataset.phase) {
        clearInterval(timer);
        window.location.reload();
      }
    }, POLL_MS);
  }

  // --- uploads and imports -----------------------------------------------------------------------

  // Sends a file into the workspace's storage through the upload API, part by part.
  async function upload(uploadsUrl, uri, file, onProgress) {
    const started = await api("POST", uploadsUrl, {uri: uri, size: file.size}, {"Idempotency-Key": newKey()});
    if (!started.ok) return started;
    const state = started.data;
    let sent = 0;
    for (const part of state.parts) {
      const begin = (part.number - 1) * state.part_size;
      const bytes = file.slice(begin, begin + part.size);
      const response = await fetch(part.url, {
        method: "PUT", body: bytes, credentials: state.transport === "api" ? "same-origin" : "omit",
        headers: state.transport === "api" ? {"X-CSRFToken": csrfToken(), "Content-Type": "application/octet-stream"} : {},
      });
      if (!response.ok) {
        let data = null;
        try { data = await response.json(); } catch (error) { data = null; }
        return {ok: false, status: response.status, data: data || {errors: [{attr: "file", detail: "A part of the file could not be sent (" + response.status + ")."}]}};
      }
      sent += part.size;
      onProgress(sent, file.size);
    }
    return api("POST", uploadsUrl + encodeURIComponent(state.id) + "/complete/", {});
  }

  // The import form: a manifest file from this computer (uploaded into the workspace's own
  // location first), or a location the workspace may name; then the import's progress.
  function initImportForm(form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      clearErrors(form);
      const button = form.querySelector("[type=submit]");
      button.disabled = true;
      const fileInput = form.querySelector("input[type=file]");
      const body = formBody(form);
      delete body.file;
      const bar = form.querySelector("progress[data-upload]");
      try {
        if (fileInput && fileInput.files.length) {
          const file = fileInput.files[0];
          const uri = form.dataset.uploadPrefix + Date.now() + "-" + file.name.replace(/[^\w.-]+/g, "_");
          bar.hidden = false;
          const sent = await upload(form.dataset.uploads, uri, file, function (done, total) { bar.max = total; bar.value = done; });
          if (!sent.ok) { showErrors(form, sent.data.errors.map(function (e) { return Object.assign({}, e, {attr: e.attr === "uri" ? "source_uri" : (e.attr || "file")}); })); return; }
          body.source_uri = sent.data.uri;
          body.kind = "manifest";
        }
        const made = await api("POST", form.dataset.api, body, {"Idempotency-Key": newKey()});
        if (!made.ok) { showErrors(form, made.data.errors); return; }
        window.location.assign(fill(form.dataset.next, made.data));
      } finally {
        button.disabled = false;
      }
    });
  }

  // --- the memory plan -----------------------------------------------------------------------------

  function initPlan(form) {
    const out = document.getElementById(form.dataset.plan);
    let timer = null;
    let asked = 0;
    async function plan() {
      const body = formBody(form);
      const request = {};
      ["model", "flavor", "tensor_parallel", "pipeline_parallel", "data_parallel", "expert_parallel", "quantization",
       "kv_cache_dtype", "memory_utilisation", "max_model_len"].forEach(function (name) {
        if (body[name] !== undefined && body[name] !== null && body[name] !== "") request[name] = body[name];
      });
      if (body.mode === "disaggregated" && body.decode_flavor) request.flavor = body.decode_flavor;
      if (!request.model || !request.flavor) { out.replaceChildren(el("p", {text: "Choose a model and a flavor to see the memory plan."})); return; }
      const mine = ++asked;
      const answer = await api("POST", form.dataset.planUrl, request);
      if (mine !== asked) return;  // a later keystroke asked again
      if (!answer.ok) {
        out.replaceChildren(el("p", {class: "bad", text: "No plan: " + answer.data.errors.map(function (e) { return (e.attr ? e.attr + ": " : "") + e.detail; }).join(" ")}));
        return;
      }
      const p = answer.data;
      const rows = [
        ["Fits", p.fits ? "yes" : "no"],
        ["Weights per card", p.weights_per_device_gib.toFixed(2) + " GiB of " + p.card_memory_gib + " GiB"],
        ["Usable for the KV cache per card", p.usable_per_device_gib.toFixed(2) + " GiB"],
        ["KV cache per token", p.kv_bytes_per_token.toLocaleString() + " bytes"],
        ["KV tokens per instance", p.kv_tokens_per_instance.toLocaleString()],
        ["Concurrent sequences of " + p.max_model_len + " tokens", p.max_concurrent_sequences.toLocaleString()],
      ];
      const table = el("table", {class: "facts"}, rows.map(function (row) { return el("tr", {}, [el("th", {scope: "row", text: row[0]}), el("td", {text: row[1]})]); }));
      const parts = [table];
      if (p.problems.length) parts.push(el("div", {class: "bad", role: "alert"}, [el("p", {text: "Refused:"}), el("ul", {}, p.problems.map(function (t) { return el("li", {text: t}); }))]));
      if (p.suggestions.length) parts.push(el("div", {}, [el("p", {text: "Suggestions:"}), el("ul", {}, p.suggestions.map(function (t) { return el("li", {text: t}); }))]));
      out.dataset.fits = String(p.fits);
      out.replaceChildren.apply(out, parts);
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(plan, 250); });
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(plan, 50); });
    plan();
  }

  // Fields shown only for some choices: data-show-when="field=value|value2".
  function initConditional(form) {
    const dependants = form.querySelectorAll("[data-show-when]");
    function update() {
      dependants.forEach(function (node) {
        const [name, values] = node.dataset.showWhen.split("=");
        const field = form.querySelector('[name="' + name + '"]:checked') || form.querySelector('[name="' + name + '"]');
        const shown = field && values.split("|").indexOf(field.type === "checkbox" ? String(field.checked) : field.value) >= 0;
        node.hidden = !shown;
        node.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !shown; });
      });
    }
    form.addEventListener("change", update);
    update();
  }

  // --- the chat playground ---------------------------------------------------------------------------

  function initPlayground(root) {
    const form = root.querySelector("form");
    const log = root.querySelector("[data-transcript]");
    const input = form.querySelector("textarea");
    const history = [];
    let key = null;

    async function apiKey() {
      if (key && Date.parse(key.expires_at) - Date.now() > 60000) return key.key;
      const answer = await api("POST", root.dataset.keyUrl, {});
      if (!answer.ok) throw new Error(answer.data.errors[0].detail);
      key = answer.data;
      return key.key;
    }

    function say(role, content) {
      const line = el("div", {class: "turn " + role}, [el("strong", {text: role === "user" ? "You" : "Service"}), el("p", {text: content})]);
      log.append(line);
      return line.querySelector("p");
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const question = input.value.trim();
      if (!question) return;
      input.value = "";
      say("user", question);
      history.push({role: "user", content: question});
      const answerNode = say("assistant", "");
      answerNode.setAttribute("aria-busy", "true");
      const button = form.querySelector("[type=submit]");
      button.disabled = true;
      let said = "";
      try {
        const response = await fetch(root.dataset.chatUrl, {
          method: "POST", credentials: "omit",
          headers: {"Authorization": "Bearer " + await apiKey(), "Content-Type": "application/json", "Accept": "text/event-stream"},
          body: JSON.stringify({messages: history, stream: true, max_tokens: parseInt(root.dataset.maxTokens || "256", 10)}),
        });
        if (!response.ok) {
          let detail = response.status + " " + response.statusText;
          try { detail = (await response.json()).errors[0].detail; } catch (error) { /* not the error shape */ }
          throw new Error(detail);
        }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, {stream: true});
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            event.split("\n").forEach(function (line) {
              if (!line.startsWith("data:")) return;
              const payload = line.slice(5).trim();
              if (payload === "[DONE]") return;
              const data = JSON.parse(payload);
              if (data.error) throw new Error(data.error.message);
              const delta = data.choices && data.choices[0] && (data.choices[0].delta || {}).content;
              if (delta) { said += delta; answerNode.textContent = said; }
            });
          }
        }
        history.push({role: "assistant", content: said});
      } catch (error) {
        answerNode.classList.add("bad");
        answerNode.textContent = "The call failed: " + error.message;
        history.pop();
      } finally {
        answerNode.removeAttribute("aria-busy");
        button.disabled = false;
        input.focus();
      }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
  }

  // Traffic of a service per minute (the API's traffic endpoint), re-read every poll.
  function initTraffic(root) {
    const canvases = root.querySelectorAll("canvas[data-traffic]");
    const made = {};
    async function load() {
      const answer = await getJSON(root.dataset.traffic + "?page_size=100");
      if (!answer.ok) return;
      const rows = (answer.data.results || answer.data).slice().reverse();
      const labels = rows.map(function (row) { return row.minute.slice(11, 16); });
      canvases.forEach(function (canvas) {
        const fields = canvas.dataset.traffic.split(",");
        const sets = fields.map(function (field) { return {label: field.replace(/_/g, " "), data: rows.map(function (row) { return row[field]; })}; });
        if (!made[canvas.dataset.traffic]) made[canvas.dataset.traffic] = chart(canvas, canvas.dataset.kind || "bar", labels, sets, {scales: {y: {beginAtZero: true}}});
        else {
          const c = made[canvas.dataset.traffic];
          c.data.labels = labels;
          c.data.datasets.forEach(function (set, i) { set.data = sets[i].data; });
          c.update();
        }
      });
      text(root.querySelector("[data-traffic-count]"), String(rows.length));
    }
    load();
    setInterval(load, POLL_MS * 5);
  }

  // --- the annotation tool -----------------------------------------------------------------------------

  function initAnnotator(root) {
    const items = readJSON(root.dataset.items) || [];
    const labels = readJSON(root.dataset.labels) || [];
    const detection = root.dataset.kind === "detection";
    const stage = root.querySelector("[data-stage]");
    const counter = root.querySelector("[data-counter]");
    const status = root.querySelector("[data-status]");
    const chosen = root.querySelector("[data-chosen]");
    const buttons = Array.from(root.querySelectorAll("[data-label]"));
    let index = 0;
    let current = labels.length ? labels[0].name : null;
    let selected = new Set();
    let boxes = [];

    function renderBoxes(svg) {
      svg.querySelectorAll("rect, text").forEach(function (node) { node.remove(); });
      boxes.forEach(function (b, i) {
        const colour = (labels.find(function (l) { return l.name === b.name; }) || {}).color || "#2563eb";
        const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
        rect.setAttribute("x", b.box.xmin); rect.setAttribute("y", b.box.ymin);
        rect.setAttribute("width", b.box.xmax - b.box.xmin); rect.setAttribute("height", b.box.ymax - b.box.ymin);
        rect.setAttribute("fill", "none"); rect.setAttribute("stroke", colour); rect.setAttribute("stroke-width", "3");
        const caption = document.createElementNS("http://www.w3.org/2000/svg", "text");
        caption.setAttribute("x", b.box.xmin + 4); caption.setAttribute("y", b.box.ymin + 18);
        caption.setAttribute("fill", colour); caption.textContent = (i + 1) + " " + b.name;
        svg.append(rect, caption);
      });
      text(chosen, boxes.length ? boxes.map(function (b) { return b.name; }).join(", ") : "no boxes");
    }

    function show() {
      if (index >= items.length) {
        stage.replaceChildren(el("p", {text: "Your queue is done. Thank you! Reload to see items sent back to you."}));
        text(counter, items.length + " of " + items.length);
        root.dataset.done = "true";
        return;
      }
      const item = items[index];
      text(counter, (index + 1) + " of " + items.length);
      selected = new Set((item.annotations || []).map(function (a) { return a.name; }));
      boxes = detection ? (item.annotations || []).filter(function (a) { return a.box; }).map(function (a) { return {name: a.name, box: a.box}; }) : [];
      buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(detection ? b.dataset.label === current : selected.has(b.dataset.label))); });
      const parts = [];
      if (item.image) {
        if (detection) {
          const width = item.width || 640, height = item.height || 480;
          const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
          svg.setAttribute("viewBox", "0 0 " + width + " " + height);
          svg.setAttribute("class", "boxes");
          svg.setAttribute("role", "img");
          svg.setAttribute("aria-label", "Sample " + item.sample + ": drag to draw a box of the chosen label");
          const image = document.createElementNS("http://www.w3.org/2000/svg", "image");
          image.setAttribute("href", item.image); image.setAttribute("width", width); image.setAttribute("height", height);
          svg.append(image);
          let start = null;
          function point(event) {
            const r = svg.getBoundingClientRect();
            return {x: Math.max(0, Math.min(width, (event.clientX - r.left) * width / r.width)),
                    y: Math.max(0, Math.min(height, (event.clientY - r.top) * height / r.height))};
          }
          svg.addEventListener("pointerdown", function (e) { start = point(e); svg.setPointerCapture(e.pointerId); });
          svg.addEventListener("pointerup", function (e) {
            if (!start || !current) return;
            const end = point(e);
            const box = {xmin: Math.round(Math.min(start.x, end.x)), ymin: Math.round(Math.min(start.y, end.y)),
                         xmax: Math.round(Math.max(start.x, end.x)), ymax: Math.round(Math.max(start.y, end.y))};
            start = null;
            if (box.xmax - box.xmin >= 2 && box.ymax - box.ymin >= 2) { boxes.push({name: current, box: box}); renderBoxes(svg); }
          });
          parts.push(svg);
          stage.replaceChildren.apply(stage, parts);
          renderBoxes(svg);
          return;
        }
        parts.push(el("img", {src: item.image, alt: "Sample " + item.sample, class: "sample-image"}));
      } else {
        parts.push(el("blockquote", {class: "sample-text", text: item.text || item.source}));
      }
      if (item.review_comment) parts.push(el("p", {class: "bad", text: "Sent back: " + item.review_comment}));
      stage.replaceChildren.apply(stage, parts);
      text(chosen, selected.size ? Array.from(selected).join(", ") : "no label");
    }

    function choose(name) {
      if (detection) {
        current = name;
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.label === name)); });
        return;
      }
      if (root.dataset.multi === "true") { if (selected.has(name)) selected.delete(name); else selected.add(name); }
      else selected = new Set(selected.has(name) ? [] : [name]);
      buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(selected.has(b.dataset.label))); });
      text(chosen, selected.size ? Array.from(selected).join(", ") : "no label");
    }

    async function save() {
      if (index >= items.length) return;
      const item = items[index];
      const annotations = detection ? boxes.map(function (b) { return {name: b.name, box: b.box}; })
                                    : Array.from(selected).map(function (name) { return {name: name}; });
      if (!annotations.length) { text(status, "Choose a label first (keys 1–" + Math.min(9, labels.length) + ")."); return; }
      text(status, "Saving…");
      const answer = await api("POST", root.dataset.annotateUrl, {items: [{id: item.id, annotations: annotations}], submit: true});
      if (!answer.ok) { text(status, answer.data.errors.map(function (e) { return e.detail; }).join(" ")); return; }
      item.annotations = annotations;
      text(status, "Saved and submitted sample " + item.sample + ".");
      const saved = parseInt(root.dataset.saved || "0", 10) + 1;
      root.dataset.saved = String(saved);
      index += 1;
      show();
    }

    buttons.forEach(function (button) { button.addEventListener("click", function () { choose(button.dataset.label); }); });
    root.querySelector("[data-save]").addEventListener("click", save);
    root.querySelector("[data-skip]").addEventListener("click", function () { index = Math.min(items.length, index + 1); show(); });
    root.querySelector("[data-back]").addEventListener("click", function () { index = Math.max(0, index - 1); show(); });
    root.addEventListener("keydown", function (event) {
      if (event.target.closest("input, textarea, select")) return;
      if (/^[1-9]$/.test(event.key) && labels[parseInt(event.key, 10) - 1]) { choose(labels[parseInt(event.key, 10) - 1].name); event.preventDefault(); }
      else if (event.key === "Enter" || event.key === "s") { save(); event.preventDefault(); }
      else if (event.key === "ArrowRight" || event.key === "n") { index = Math.min(items.length, index + 1); show(); event.preventDefault(); }
      else if (event.key === "ArrowLeft" || event.key === "p") { index = Math.max(0, index - 1); show(); event.preventDefault(); }
      else if ((event.key === "Backspace" || event.key === "Delete") && detection && boxes.length) {
        boxes.pop();
        const svg = stage.querySelector("svg");
        if (svg) renderBoxes(svg);
        event.preventDefault();
      }
    });
    show();
    root.focus();
  }

  // --- small things --------------------------------------------------------------------------------------

  function initAutosubmit(select) {
    const button = select.form.querySelector(".js-hidden");
    if (button) button.hidden = true;
    select.addEventListener("change", function () { select.form.submit(); });
  }

  // Buttons that call the API once: data-action (URL), data-method, data-confirm, data-next or reload.
  function initActionButton(button) {
    button.addEventListener("click", async function () {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      button.disabled = true;
      let body = button.dataset.body ? JSON.parse(button.dataset.body) : (button.dataset.method === "DELETE" ? undefined : {});
      if (button.dataset.prompt) {
        const said = window.prompt(button.dataset.prompt);
        if (said === null) { button.disabled = false; return; }
        body = Object.assign({}, body, JSON.parse(button.dataset.promptInto.replace("$", JSON.stringify(said).slice(1, -1))));
      }
      const answer = await api(button.dataset.method || "POST", button.dataset.action, body);
      button.disabled = false;
      const out = button.dataset.out ? document.getElementById(button.dataset.out) : null;
      if (!answer.ok) {
        const message = answer.data.errors.map(function (e) { return (e.attr ? e.attr + ": " : "") + e.detail; }).join(" ");
        if (out) { out.hidden = false; out.className = "bad"; out.textContent = message; } else window.alert(message);
        return;
      }
      if (button.dataset.show && out) {
        out.hidden = false;
        out.className = "form-done";
        out.textContent = button.dataset.showLabel + " " + answer.data[button.dataset.show];
        return;
      }
      if (button.dataset.next) window.location.assign(fill(button.dataset.next, answer.data || {}));
      else window.location.reload();
    });
  }

  // Shows what an API answer holds once (a new API key, an invitation link) after a form is done.
  function initReveal(form) {
    form.addEventListener("api:done", function (event) {
      const target = document.getElementById(form.dataset.reveal);
      target.hidden = false;
      target.querySelectorAll("[data-field]").forEach(function (node) {
        const value = node.dataset.field.split(".").reduce(function (v, k) { return v == null ? v : v[k]; }, event.detail);
        if (node.tagName === "INPUT") node.value = value; else node.textContent = value;
      });
      form.reset();
    });
  }

  function initCopy(button) {
    button.addEventListener("click", function () {
      const source = document.getElementById(button.dataset.copy);
      source.select();
      if (navigator.clipboard) navigator.clipboard.writeText(source.value);
      button.textContent = "Copied";
    });
  }

  const parts = [
    ["form[data-api]:not([data-import])", initApiForm], ["form[data-import]", initImportForm], ["form[data-plan]", initPlan],
    ["form[data-conditional]", initConditional], ["form[data-reveal]", initReveal], ["canvas[data-chart]", initStaticChart],
    ["canvas[data-metrics]", initMetricChart], ["[data-poll]", initPoll], ["pre[data-log-tail]", initLogTail],
    ["[data-phase]", initPhase], ["[data-playground]", initPlayground], ["[data-traffic]:not(canvas)", initTraffic],
    ["[data-annotator]", initAnnotator], ["select[data-autosubmit]", initAutosubmit], ["button[data-action]", initActionButton],
    ["button[data-copy]", initCopy],
  ];
  document.addEventListener("DOMContentLoaded", function () {
    parts.forEach(function ([selector, init]) { document.querySelectorAll(selector).forEach(init); });
  });
})();
