/* Rapport career-site widget. No dependencies.
 *
 *   <div data-rapport-apply data-job="JOB_ID"></div>
 *   <div data-rapport-subscribe></div>
 *   <script src="https://API/careers/widget.js" defer></script>
 *
 * The apply form carries utm_* parameters, the referrer and the landing URL into `source`, starts a
 * draft as soon as a valid email is typed (so a drop-off is not lost), uploads the resume straight to
 * storage through a presigned URL, submits, and shows the field errors the API returns.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var api = (script && script.getAttribute("data-api")) || (script ? new URL(script.src).origin : "");
  var LANDING = "rapport.landing_url";
  var REFERRER = "rapport.referrer";
  try {
    // The first page of the visit is where the person landed; later pages keep it.
    if (!sessionStorage.getItem(LANDING)) {
      sessionStorage.setItem(LANDING, location.href);
      sessionStorage.setItem(REFERRER, document.referrer || "");
    }
  } catch (e) { /* storage may be blocked: fall back to this page */ }

  function source() {
    var landing = location.href, referrer = document.referrer || "";
    try {
      landing = sessionStorage.getItem(LANDING) || landing;
      referrer = sessionStorage.getItem(REFERRER) || referrer;
    } catch (e) {}
    var out = { landing_url: landing };
    if (referrer) out.referrer = referrer;
    var params = new URL(landing).searchParams;
    ["utm_source", "utm_medium", "utm_campaign", "utm_content"].forEach(function (k) {
      if (params.get(k)) out[k] = params.get(k);
    });
    var token = params.get("rt");
    if (token) out.token = token;
    return out;
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }

  function field(name, label, type, required) {
    var input = el("input", { name: name, id: "rapport-" + name, type: type || "text" });
    if (required) input.required = true;
    return el("p", { "class": "rapport-field", "data-field": name }, [
      el("label", { "for": "rapport-" + name, text: label }), input,
      el("span", { "class": "rapport-error", role: "alert" })
    ]);
  }

  function checkbox(name, label, required) {
    var input = el("input", { name: name, id: "rapport-" + name.replace(".", "-"), type: "checkbox" });
    if (required) input.required = true;
    return el("p", { "class": "rapport-field", "data-field": name }, [
      input, el("label", { "for": input.id, text: " " + label }), el("span", { "class": "rapport-error", role: "alert" })
    ]);
  }

  function clearErrors(form) {
    form.querySelectorAll(".rapport-error").forEach(function (s) { s.textContent = ""; });
    var summary = form.querySelector(".rapport-summary");
    if (summary) summary.textContent = "";
  }

  // problem+json: put each message next to its field, anything else in the summary.
  function showProblem(form, problem) {
    var summary = form.querySelector(".rapport-summary");
    var shown = false;
    (problem.errors || []).forEach(function (e) {
      var holder = form.querySelector('[data-field="' + e.field + '"]') ||
        form.querySelector('[data-field="' + e.field.split(".")[0] + '"]');
      if (holder) {
        holder.querySelector(".rapport-error").textContent = e.message;
        shown = true;
      }
    });
    if (!shown) summary.textContent = problem.detail || problem.title || "Something went wrong; please try again.";
  }

  function post(path, body, headers) {
    return fetch(api + path, {
      method: "POST",
      headers: Object.assign({ "content-type": "application/json" }, headers || {}),
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.text().then(function (t) {
        var data = {};
        try { data = t ? JSON.parse(t) : {}; } catch (e) {}
        return { ok: res.ok, status: res.status, data: data };
      });
    });
  }

  function validEmail(v) { return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v); }

  function applyForm(host) {
    var job = host.getAttribute("data-job");
    var key = "rapport.idempotency." + job;
    var draftId = null, draftFor = null;
    var form = el("form", { "class": "rapport-apply", novalidate: "" }, [
      field("first_name", "First name", "text", true),
      field("last_name", "Last name", "text", true),
      field("email", "Email", "email", true),
      field("phone", "Phone", "tel"),
      el("p", { "class": "rapport-field", "data-field": "resume_key" }, [
        el("label", { "for": "rapport-resume", text: "Resume (PDF, Word, text or RTF; 10 MB at most)" }),
        el("input", { name: "resume", id: "rapport-resume", type: "file", accept: ".pdf,.docx,.txt,.rtf" }),
        el("span", { "class": "rapport-error", role: "alert" })
      ]),
      checkbox("consent.processing", "I agree that my application data is processed for this job.", true),
      checkbox("consent.talent_pool", "Keep me in your talent pool for other jobs."),
      // A field people never see: bots fill it in.
      el("p", { style: "position:absolute;left:-9999px", "aria-hidden": "true" }, [
        el("input", { name: "website", tabindex: "-1", autocomplete: "off" })
      ]),
      el("p", { "class": "rapport-summary", role: "alert" }),
      el("button", { type: "submit", text: "Apply" })
    ]);
    var email = form.querySelector('[name="email"]');
    function startDraft() {
      var v = email.value.trim();
      if (!validEmail(v) || draftFor === v.toLowerCase()) return;
      draftFor = v.toLowerCase();
      post("/careers/jobs/" + job + "/drafts", {
        email: v,
        first_name: form.querySelector('[name="first_name"]').value.trim() || undefined,
        consent: { talent_pool: form.querySelector('[name="consent.talent_pool"]').checked },
        source: source()
      }).then(function (r) { if (r.ok) { draftId = r.data.draft_id; host.setAttribute("data-draft", draftId); } });
    }
    email.addEventListener("change", startDraft);
    email.addEventListener("blur", startDraft);

    function upload(file) {
      var types = { pdf: "application/pdf", docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    txt: "text/plain", rtf: "application/rtf" };
      var ext = (file.name.split(".").pop() || "").toLowerCase();
      var type = types[ext] || file.type;
      return post("/careers/uploads", { content_type: type, size: file.size, purpose: "resume" }).then(function (r) {
        if (!r.ok) {
          var why = ((r.data.errors || [])[0] || {}).message || "it is not a PDF, Word, text or RTF file of 10 MB at most";
          throw { data: { errors: [{ field: "resume_key", message: "This file cannot be used: " + why }] } };
        }
        return fetch(r.data.upload_url, { method: "PUT", headers: r.data.headers, body: file }).then(function (put) {
          if (!put.ok) throw { data: { errors: [{ field: "resume_key", message: "The upload failed; please try again." }] } };
          return r.data.key;
        });
      });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors(form);
      var button = form.querySelector("button");
      button.disabled = true;
      var file = form.querySelector('[name="resume"]').files[0];
      var idem;
      try { idem = sessionStorage.getItem(key); } catch (e) {}
      if (!idem) {
        idem = String(Date.now()) + "-" + Math.random().toString(36).slice(2);
        try { sessionStorage.setItem(key, idem); } catch (e) {}
      }
      (file ? upload(file) : Promise.resolve(undefined)).then(function (resumeKey) {
        var body = {
          first_name: form.querySelector('[name="first_name"]').value,
          last_name: form.querySelector('[name="last_name"]').value,
          email: email.value,
          consent: {
            processing: form.querySelector('[name="consent.processing"]').checked,
            talent_pool: form.querySelector('[name="consent.talent_pool"]').checked
          },
          source: source(),
          website: form.querySelector('[name="website"]').value
        };
        var phone = form.querySelector('[name="phone"]').value.trim();
        if (phone) body.phone = phone;
        if (resumeKey) body.resume_key = resumeKey;
        if (draftId) body.draft_id = draftId;
        return post("/careers/jobs/" + job + "/applications", body, { "idempotency-key": idem });
      }).then(function (r) {
        if (!r.ok) throw r;
        try { sessionStorage.removeItem(key); } catch (e) {}
        host.setAttribute("data-application", r.data.application_id || "");
        host.replaceChildren(el("p", { "class": "rapport-done", role: "status", text: "Thank you! We have your application." }));
      }).catch(function (r) {
        button.disabled = false;
        showProblem(form, (r && r.data) || {});
      });
    });
    host.replaceChildren(form);
  }

  function subscribeForm(host) {
    var form = el("form", { "class": "rapport-subscribe", novalidate: "" }, [
      field("email", "Email", "email", true),
      field("first_name", "First name"),
      field("departments", "Teams you are interested in (comma separated)"),
      checkbox("consent.talent_pool", "Email me about jobs and life on the team.", true),
      el("p", { "class": "rapport-summary", role: "alert" }),
      el("button", { type: "submit", text: "Subscribe" })
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors(form);
      var list = form.querySelector('[name="departments"]').value.split(",").map(function (s) { return s.trim(); })
        .filter(function (s) { return s; });
      var body = {
        email: form.querySelector('[name="email"]').value,
        interests: { departments: list },
        consent: { talent_pool: form.querySelector('[name="consent.talent_pool"]').checked }
      };
      var first = form.querySelector('[name="first_name"]').value.trim();
      if (first) body.first_name = first;
      post("/careers/talent-pool", body).then(function (r) {
        if (!r.ok) return showProblem(form, r.data);
        host.replaceChildren(el("p", { "class": "rapport-done", role: "status", text: "Almost there: check your inbox to confirm." }));
      });
    });
    host.replaceChildren(form);
  }

  function init() {
    document.querySelectorAll("[data-rapport-apply]").forEach(applyForm);
    document.querySelectorAll("[data-rapport-subscribe]").forEach(subscribeForm);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
