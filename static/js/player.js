// The lesson player: resume where the learner stopped, and a quality selector that keeps the
// position. Progressive enhancement: without this script the <video>/<audio> still plays.
(function () {
  "use strict";

  var SAVE_EVERY_MS = 5000;
  var QUALITY_KEY = "lms:quality";

  // Where the learner stopped, per lesson. For now kept in this browser (localStorage); the
  // server's play sessions will replace this one function (same get/put/clear shape).
  function positionStore(lessonId) {
    var key = "lms:position:" + lessonId;
    return {
      get: function () {
        try { return parseFloat(window.localStorage.getItem(key)) || 0; } catch (e) { return 0; }
      },
      put: function (seconds) {
        try { window.localStorage.setItem(key, String(Math.floor(seconds))); } catch (e) { /* full or disabled */ }
      },
      clear: function () {
        try { window.localStorage.removeItem(key); } catch (e) { /* disabled */ }
      }
    };
  }

  function formatClock(seconds) {
    var s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = h ? (m < 10 ? "0" + m : m) : m;
    return (h ? h + ":" : "") + mm + ":" + (r < 10 ? "0" + r : r);
  }

  function storedQuality() {
    try { return window.localStorage.getItem(QUALITY_KEY); } catch (e) { return null; }
  }

  function rememberQuality(value) {
    try { window.localStorage.setItem(QUALITY_KEY, value); } catch (e) { /* disabled */ }
  }

  // Change the source, then seek back to where playback was and resume if it was playing.
  function switchSource(media, src, label) {
    var at = media.currentTime, playing = !media.paused && !media.ended;
    media.addEventListener("loadedmetadata", function once() {
      media.removeEventListener("loadedmetadata", once);
      if (at > 0 && at < media.duration) { media.currentTime = at; }
      if (playing) { media.play().catch(function () { /* autoplay refused: the learner presses play */ }); }
    });
    media.setAttribute("data-quality", label);
    media.src = src;
    media.load();
  }

  function setUpQuality(player, media) {
    var box = player.querySelector("[data-quality-picker]");
    var select = box && box.querySelector("select");
    if (!select) { return; }
    box.hidden = false;
    var optionFor = function (label) {
      return Array.prototype.find.call(select.options, function (o) { return o.value === label; });
    };
    // Default: 360p on small screens (the page's own choice), 720p on wide ones; a choice
    // the learner made before wins.
    var wide = window.matchMedia && window.matchMedia("(min-width: 720px)").matches;
    var wanted = storedQuality() || (wide ? "720p" : null);
    var option = wanted && optionFor(wanted);
    if (option && option.value !== media.getAttribute("data-quality")) {
      select.value = option.value;
      switchSource(media, option.getAttribute("data-src"), option.value);
    }
    select.addEventListener("change", function () {
      var chosen = optionFor(select.value);
      if (!chosen) { return; }
      rememberQuality(chosen.value);
      switchSource(media, chosen.getAttribute("data-src"), chosen.value);
    });
  }

  function setUpResume(player, media) {
    var store = positionStore(player.getAttribute("data-lesson"));
    var note = player.querySelector("[data-resume-note]");
    var lastSaved = 0, restored = false;
    var restore = function () {
      if (restored) { return; }
      restored = true;
      var at = store.get();
      if (at > 3 && (!media.duration || at < media.duration - 3)) {
        media.currentTime = at;
        if (note) {
          note.textContent = "已从上次停止的位置 " + formatClock(at) + " 继续。";
          note.hidden = false;
        }
      }
    };
    if (media.readyState >= 1) { restore(); } else { media.addEventListener("loadedmetadata", restore); }
    media.addEventListener("timeupdate", function () {
      var now = Date.now();
      if (now - lastSaved >= SAVE_EVERY_MS && media.currentTime > 0) {
        lastSaved = now;
        store.put(media.currentTime);
      }
    });
    media.addEventListener("pause", function () {
      if (media.currentTime > 0 && !media.ended) { store.put(media.currentTime); }
    });
    media.addEventListener("ended", function () { store.clear(); });
    window.addEventListener("pagehide", function () {
      if (media.currentTime > 0 && !media.ended) { store.put(media.currentTime); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-player]").forEach(function (player) {
      var media = player.querySelector("video, audio");
      if (!media) { return; }
      setUpResume(player, media);
      if (media.tagName === "VIDEO") { setUpQuality(player, media); }
    });
  });
})();
