/*
 * Solves hardened_auth's sign-in proof of work (an ALTCHA v1 challenge) in
 * the browser with Web Crypto, then lets the form be submitted.
 *
 * Markup (see hardened_auth/altcha_widget.html): an element with
 * data-altcha-widget inside the sign-in form, holding a hidden input named
 * "altcha" and an element with data-altcha-status; its data-challenge-id
 * names a JSON script element with the challenge. The solution is the
 * number n for which hash(salt + n) equals the challenge; the payload sent
 * back is base64 JSON that the server verifies offline, once.
 */
(function () {
  "use strict";

  var BATCH = 500;
  var ALGORITHMS = ["SHA-1", "SHA-256", "SHA-512"];

  function toHex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i += 1) {
      out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return out;
  }

  function digest(algorithm, text) {
    var data = new TextEncoder().encode(text);
    return window.crypto.subtle.digest(algorithm, data).then(toHex);
  }

  function search(challenge, onProgress) {
    var salt = challenge.salt.slice(-1) === "&" ? challenge.salt : challenge.salt + "&";
    var max = Number(challenge.maxnumber);

    function batch(start) {
      if (start > max) {
        return Promise.resolve(null);
      }
      var end = Math.min(start + BATCH - 1, max);
      var pending = [];
      for (var n = start; n <= end; n += 1) {
        pending.push(digest(challenge.algorithm, salt + n));
      }
      return Promise.all(pending).then(function (hashes) {
        var found = hashes.indexOf(challenge.challenge);
        if (found !== -1) {
          return start + found;
        }
        onProgress(Math.floor((end * 100) / max));
        return batch(end + 1);
      });
    }

    return batch(0);
  }

  function payload(challenge, number, took) {
    return window.btoa(
      JSON.stringify({
        algorithm: challenge.algorithm,
        challenge: challenge.challenge,
        number: number,
        salt: challenge.salt,
        signature: challenge.signature,
        took: took,
      })
    );
  }

  function submitButtons(form) {
    return form ? form.querySelectorAll("button[type=submit], input[type=submit]") : [];
  }

  function setDisabled(buttons, disabled) {
    for (var i = 0; i < buttons.length; i += 1) {
      buttons[i].disabled = disabled;
    }
  }

  function start(widget) {
    var form = widget.closest("form");
    var field = widget.querySelector("input[name=altcha]");
    var status = widget.querySelector("[data-altcha-status]");
    var source = document.getElementById(widget.getAttribute("data-challenge-id"));
    var buttons = submitButtons(form);

    widget.hidden = false;
    if (!field || !status || !source) {
      return;
    }
    if (!window.crypto || !window.crypto.subtle || !window.TextEncoder) {
      widget.setAttribute("data-state", "unsupported");
      status.textContent =
        "This browser cannot run the check on this connection (it needs " +
        "HTTPS). Try again later, or from another browser.";
      return;
    }

    var challenge;
    try {
      challenge = JSON.parse(source.textContent);
    } catch (error) {
      challenge = null;
    }
    if (!challenge || ALGORITHMS.indexOf(challenge.algorithm) === -1) {
      widget.setAttribute("data-state", "error");
      status.textContent = "The check could not be read. Reload the page.";
      return;
    }

    setDisabled(buttons, true);
    widget.setAttribute("data-state", "working");
    status.textContent = "Checking this browser, please wait…";
    var began = Date.now();
    search(challenge, function (percent) {
      status.textContent = "Checking this browser, please wait… " + percent + "%";
    }).then(
      function (number) {
        if (number === null) {
          widget.setAttribute("data-state", "error");
          status.textContent = "The check failed. Reload the page to get a new one.";
          return;
        }
        field.value = payload(challenge, number, Date.now() - began);
        widget.setAttribute("data-state", "solved");
        status.textContent = "Check passed. You can sign in now.";
        setDisabled(buttons, false);
      },
      function () {
        widget.setAttribute("data-state", "error");
        status.textContent = "The check failed. Reload the page to get a new one.";
      }
    );
  }

  function startAll() {
    var widgets = document.querySelectorAll("[data-altcha-widget]");
    for (var i = 0; i < widgets.length; i += 1) {
      start(widgets[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
