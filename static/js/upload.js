// Resumable uploads for the media upload widget (lms/media/templates/media/upload_widget.html).
//
// A small tus 1.0.0 client of our own rather than the vendored tus-js-client: tus-js-client
// does not send the checksum extension's Upload-Checksum, and every chunk here carries a
// "sha1 <base64>" checksum (computed with crypto.subtle where the page is a secure context;
// elsewhere chunks go without one). Chunks are 5 MB PATCHes; a dropped connection is retried
// with backoff from the offset the server reports (HEAD); the upload URL is remembered in
// localStorage, keyed by file name, size, lastModified, purpose and meta, so choosing the same
// file again after a reload resumes where it stopped. When the file is complete the widget
// polls /media/assets/<id>/status until processing has finished.
(function () {
  "use strict";
  if (window.lmsUploadWidgets) { return; }
  window.lmsUploadWidgets = true;

  var CHUNK = 5 * 1024 * 1024;    // bytes per PATCH (data-chunk-bytes may set another size)
  var BACKOFF = [1000, 2000, 4000, 8000, 15000, 30000];
  var MAX_FAILURES = 12;          // consecutive failed requests before asking the person
  var STALL_MS = 60000;           // abort a PATCH that made no progress for this long
  var POLL_MS = 2000;
  var TUS = "1.0.0";

  function sleep(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  function b64(text) {
    // UTF-8 → base64 (tus metadata values)
    var bytes = new TextEncoder().encode(String(text));
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary);
  }

  function bytesToB64(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary);
  }

  function canHash() {
    return !!(window.crypto && window.crypto.subtle && window.isSecureContext);
  }

  function readChunk(blob) {
    if (blob.arrayBuffer) { return blob.arrayBuffer(); }
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(blob);
    });
  }

  function formatBytes(n) {
    if (n >= 1073741824) { return (n / 1073741824).toFixed(2) + " GB"; }
    if (n >= 1048576) { return (n / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(n / 1024)) + " KB";
  }

  // One HTTP request; resolves with the XHR whatever its status (0 for a network failure).
  function request(method, url, headers, body, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      var watchdog = null;
      function arm() {
        if (watchdog) { window.clearTimeout(watchdog); }
        watchdog = window.setTimeout(function () { xhr.abort(); }, STALL_MS);
      }
      xhr.open(method, url, true);
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      xhr.onload = function () { window.clearTimeout(watchdog); resolve(xhr); };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () {
        window.clearTimeout(watchdog);
        resolve({ status: 0, getResponseHeader: function () { return null; }, responseText: "" });
      };
      if (xhr.upload) {
        xhr.upload.onprogress = function (event) { arm(); if (onProgress) { onProgress(event.loaded); } };
      }
      arm();
      xhr.send(body === undefined ? null : body);
    });
  }

  function errorMessage(xhr, fallback) {
    try {
      var data = JSON.parse(xhr.responseText);
      if (data && data.error && data.error.message) { return data.error.message; }
    } catch (e) { /* not JSON */ }
    return fallback;
  }

  function Widget(root) {
    this.root = root;
    this.input = root.querySelector(".upload-input");
    this.bar = root.querySelector(".upload-progress");
    this.status = root.querySelector(".upload-status");
    this.retryButton = root.querySelector(".upload-retry");
    this.cancelButton = root.querySelector(".upload-cancel");
    this.assetInput = root.querySelector(".upload-asset-id");
    this.endpoint = root.getAttribute("data-upload-endpoint");
    this.purpose = root.getAttribute("data-upload-purpose");
    this.meta = JSON.parse(root.getAttribute("data-upload-meta") || "{}");
    this.csrf = root.getAttribute("data-csrf");
    this.maxBytes = parseInt(root.getAttribute("data-max-bytes") || "0", 10);
    this.chunk = parseInt(root.getAttribute("data-chunk-bytes") || "0", 10) || CHUNK;
    this.file = null;
    this.url = null;
    this.running = false;
    this.cancelled = false;
    var self = this;
    this.input.addEventListener("change", function () {
      if (self.input.files && self.input.files[0]) { self.start(self.input.files[0]); }
    });
    this.retryButton.addEventListener("click", function () { if (self.file) { self.start(self.file); } });
    this.cancelButton.addEventListener("click", function () { self.cancel(); });
  }

  Widget.prototype.say = function (text, kind) {
    this.status.textContent = text;
    this.status.className = "upload-status" + (kind ? " upload-" + kind : "");
  };

  Widget.prototype.show = function (done, total) {
    var percent = total ? Math.floor(done * 100 / total) : 0;
    this.bar.hidden = false;
    this.bar.max = 100;
    this.bar.value = percent;
    this.bar.textContent = percent + "%";
  };

  Widget.prototype.key = function (file) {
    return "lms-tus:" + [this.purpose, JSON.stringify(this.meta), file.name, file.size,
      file.lastModified].join(":");
  };

  Widget.prototype.remember = function (url) {
    try { window.localStorage.setItem(this.key(this.file), url); } catch (e) { /* private mode */ }
  };

  Widget.prototype.forget = function () {
    try { window.localStorage.removeItem(this.key(this.file)); } catch (e) { /* private mode */ }
  };

  Widget.prototype.remembered = function () {
    try { return window.localStorage.getItem(this.key(this.file)); } catch (e) { return null; }
  };

  Widget.prototype.headers = function (extra) {
    var headers = { "Tus-Resumable": TUS, "X-CSRFToken": this.csrf };
    Object.keys(extra || {}).forEach(function (name) { headers[name] = extra[name]; });
    return headers;
  };

  Widget.prototype.start = function (file) {
    if (this.running) { return; }
    if (this.file && this.file !== file) { this.url = null; }
    this.file = file;
    this.cancelled = false;
    this.retryButton.hidden = true;
    this.assetInput.value = "";
    if (this.maxBytes && file.size > this.maxBytes) {
      this.say("文件过大：最大 " + formatBytes(this.maxBytes) + "。", "error");
      return;
    }
    if (file.size === 0) {
      this.say("文件是空的（0 字节），请重新选择。", "error");
      return;
    }
    this.running = true;
    this.input.disabled = true;
    this.cancelButton.hidden = false;
    var self = this;
    this.run().catch(function () {
      self.say("上传出错，请点击“重试”继续。", "error");
      self.retryButton.hidden = false;
    }).then(function () {
      self.running = false;
      self.input.disabled = false;
      self.cancelButton.hidden = true;
    });
  };

  // Find where to go on: the remembered upload's offset (HEAD), or a new upload (POST).
  Widget.prototype.open = async function () {
    var url = this.url || this.remembered();
    if (url) {
      var head = await request("HEAD", url, this.headers(), undefined);
      if (head.status === 200) {
        this.url = url;
        var asset = head.getResponseHeader("Upload-Asset-Id");
        if (asset) { return { offset: this.file.size, asset: asset, statusUrl: head.getResponseHeader("Upload-Asset-Status") }; }
        var offset = parseInt(head.getResponseHeader("Upload-Offset"), 10) || 0;
        if (offset > 0) { this.say("检测到未完成的上传，从 " + Math.floor(offset * 100 / this.file.size) + "% 处继续。"); }
        return { offset: offset };
      }
      if (head.status === 0 || head.status >= 500) { throw { retry: true }; }
      this.forget();
      this.url = null;
    }
    var meta = ["filename " + b64(this.file.name), "filetype " + b64(this.file.type || ""),
      "purpose " + b64(this.purpose)];
    var self = this;
    Object.keys(this.meta).forEach(function (k) { meta.push(k + " " + b64(self.meta[k])); });
    var created = await request("POST", this.endpoint, this.headers({
      "Upload-Length": String(this.file.size),
      "Upload-Metadata": meta.join(",")
    }), undefined);
    if (created.status === 201) {
      this.url = new URL(created.getResponseHeader("Location"), window.location.href).href;
      this.remember(this.url);
      return { offset: 0 };
    }
    if (created.status === 0 || created.status >= 500 || created.status === 429) { throw { retry: true }; }
    throw { fatal: errorMessage(created, "无法开始上传（" + created.status + "）。") };
  };

  Widget.prototype.sendChunk = async function (offset) {
    var end = Math.min(offset + this.chunk, this.file.size);
    var blob = this.file.slice(offset, end);
    var extra = { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset) };
    var body = blob;
    if (canHash()) {
      body = await readChunk(blob);
      var digest = await window.crypto.subtle.digest("SHA-1", body);
      extra["Upload-Checksum"] = "sha1 " + bytesToB64(digest);
    }
    var self = this;
    var size = this.file.size;
    return request("PATCH", this.url, this.headers(extra), body, function (loaded) {
      self.show(offset + loaded, size);
    });
  };

  Widget.prototype.run = async function () {
    var failures = 0;
    var state = null;
    var size = this.file.size;
    this.say("正在上传 " + this.file.name + "（" + formatBytes(size) + "）…");
    while (!this.cancelled) {
      try {
        if (!state) { state = await this.open(); }
        if (state.asset) { return this.finished(state.asset, state.statusUrl); }
        this.show(state.offset, size);
        var xhr = await this.sendChunk(state.offset);
        if (this.cancelled) { return; }
        if (xhr.status === 204) {
          failures = 0;
          state.offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
          this.show(state.offset, size);
          var asset = xhr.getResponseHeader("Upload-Asset-Id");
          if (asset) { return this.finished(asset, xhr.getResponseHeader("Upload-Asset-Status")); }
          this.say("已上传 " + formatBytes(state.offset) + " / " + formatBytes(size) + "…");
          continue;
        }
        if (xhr.status === 409 || xhr.status === 423) {
          state = null;               // ask the server where it stands (HEAD)
        } else if (xhr.status === 460) {
          // the chunk was damaged on the way: send it again
        } else if (xhr.status === 404 || xhr.status === 410) {
          this.forget();
          this.url = null;
          state = null;
        } else if (xhr.status !== 0 && xhr.status < 500) {
          throw { fatal: errorMessage(xhr, "上传失败（" + xhr.status + "）。") };
        } else {
          state = null;
        }
      } catch (problem) {
        if (problem && problem.fatal) {
          this.say(problem.fatal, "error");
          return;
        }
        if (!(problem && problem.retry)) { throw problem; }
        state = null;
      }
      failures += 1;
      if (failures > MAX_FAILURES) {
        this.say("网络连接不稳定，上传已暂停。请检查网络后点击“重试”，会从中断处继续。", "error");
        this.retryButton.hidden = false;
        return;
      }
      if (!navigator.onLine) {
        this.say("网络已断开，恢复连接后将自动继续…", "warn");
        await new Promise(function (resolve) { window.addEventListener("online", resolve, { once: true }); });
      } else {
        var wait = BACKOFF[Math.min(failures - 1, BACKOFF.length - 1)];
        this.say("连接中断，" + Math.round(wait / 1000) + " 秒后自动重试（第 " + failures + " 次）…", "warn");
        await sleep(wait);
      }
    }
  };

  Widget.prototype.cancel = async function () {
    this.cancelled = true;
    if (this.url) {
      await request("DELETE", this.url, this.headers(), undefined);
    }
    if (this.file) { this.forget(); }
    this.url = null;
    this.bar.hidden = true;
    this.say("已取消上传。");
  };

  Widget.prototype.finished = function (assetId, statusUrl) {
    this.forget();
    this.url = null;
    this.show(1, 1);
    this.assetInput.value = assetId;
    this.say("上传完成，等待处理…", "ok");
    this.root.dispatchEvent(new CustomEvent("media:uploaded", { bubbles: true, detail: { assetId: assetId } }));
    if (statusUrl) { this.poll(statusUrl, 0); }
  };

  Widget.prototype.poll = function (url, failures) {
    var self = this;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data.finished) {
          self.bar.hidden = true;
          self.say(data.label + (data.error ? "：" + data.error : ""), data.status === "ready" ? "ok" : "error");
          self.root.dispatchEvent(new CustomEvent("media:finished", { bubbles: true, detail: data }));
          return;
        }
        self.show(data.progress || 0, 100);
        self.say(data.label + (data.progress ? " " + data.progress + "%" : "") + "…");
        window.setTimeout(function () { self.poll(url, 0); }, POLL_MS);
      })
      .catch(function () {
        if (failures < 30) { window.setTimeout(function () { self.poll(url, failures + 1); }, POLL_MS * 2); }
      });
  };

  function init() {
    var roots = document.querySelectorAll(".upload-widget");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].hasAttribute("data-upload-ready")) {
        roots[i].setAttribute("data-upload-ready", "1");
        new Widget(roots[i]);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
