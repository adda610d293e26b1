/* The customer's payment forms (docs/payments.md, "Paying as a customer"): the pay box on the
 * order and invoice pages, and the add-a-card form of the payment methods page.
 *
 * Card details go from Stripe's card element straight to Stripe (a SetupIntent confirmed by
 * Stripe.js); the portal only ever receives Stripe's ids. The portal charges a saved card and
 * answers where the payment stands; when the bank wants its check, Stripe.js runs it and the
 * portal is then asked to read the outcome from Stripe. The browser's word is never taken.
 * Needs Stripe.js (from Stripe) loaded first, and the page's JSON island "pay-words". */
(function () {
  "use strict";

  var island = document.getElementById("pay-words");
  var words = island ? JSON.parse(island.textContent) : {};
  var declines = words.declines || {};
  var stripes = {};

  function stripeFor(key) {
    if (!stripes[key]) {
      stripes[key] = window.Stripe(key);
    }
    return stripes[key];
  }

  function token(form) {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function plain(error) {
    if (!error) {
      return words.unreachable;
    }
    return declines[error.code] || error.message || words.unreachable;
  }

  /* POST to the portal and read its JSON answer; an error answer becomes a thrown message. */
  function post(url, form, fields) {
    var body = new URLSearchParams(fields || {});
    body.set("csrfmiddlewaretoken", token(form));
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token(form) },
      body: body,
    }).then(
      function (response) {
        return response.json().then(
          function (json) {
            if (!response.ok) {
              throw new Error((json.error && json.error.message) || words.unreachable);
            }
            return json;
          },
          function () {
            throw new Error(words.unreachable);
          }
        );
      },
      function () {
        throw new Error(words.unreachable);
      }
    );
  }

  function say(status, message, state) {
    if (!status) {
      return;
    }
    status.textContent = message || "";
    status.className = "pay-status" + (state ? " " + state : "");
  }

  /* A card element mounted in the container, created once per container. ``entered`` says
   * whether anything was typed in it (Stripe itself checks the details when they are sent). */
  function cardElement(stripe, container) {
    if (!container.payElement) {
      var element = stripe.elements().create("card");
      element.entered = false;
      element.on("change", function (event) {
        element.entered = !event || !event.empty;
      });
      element.mount(container);
      container.payElement = element;
    }
    return container.payElement;
  }

  /* Save the card typed in the element: a SetupIntent from the portal, confirmed by Stripe.js,
   * then kept by the portal (which reads the card from Stripe). Resolves with the card's id. */
  function saveCard(root, form, element, makeDefault) {
    var stripe = stripeFor(root.dataset.publishableKey);
    return post(root.dataset.setupUrl, form)
      .then(function (setup) {
        return stripe.confirmCardSetup(setup.client_secret, {
          payment_method: { card: element },
        });
      })
      .then(function (result) {
        if (result.error) {
          throw new Error(plain(result.error));
        }
        return post(root.dataset.saveUrl, form, {
          setup_intent: result.setupIntent.id,
          make_default: makeDefault ? "1" : "0",
        });
      })
      .then(function (saved) {
        return saved.card;
      });
  }

  /* The portal's answer about a payment: run the bank's check when asked, then ask the portal
   * again (it reads the intent from Stripe). Resolves with the final answer. */
  function settle(root, form, answer, status) {
    if (answer.state !== "requires_action") {
      return Promise.resolve(answer);
    }
    say(status, words.authenticating, "processing");
    var stripe = stripeFor(root.dataset.publishableKey);
    return stripe.confirmCardPayment(answer.client_secret).then(function () {
      return post(answer.confirm_url, form);
    });
  }

  function finish(status, answer) {
    say(status, answer.message, answer.state);
    if (answer.state === "succeeded" || answer.state === "processing") {
      // The page (order state, invoice state, amount due) is drawn again from the server.
      window.setTimeout(function () {
        window.location.reload();
      }, 600);
      return true;
    }
    return false;
  }

  function busy(form, on) {
    form.dataset.busy = on ? "1" : "";
    Array.prototype.forEach.call(form.querySelectorAll("button, input"), function (input) {
      input.disabled = on;
    });
  }

  function setUpPayBox(root) {
    var status = root.querySelector("[data-testid=pay-status]");
    var payForm = root.querySelector("[data-pay-form]");
    var confirmForm = root.querySelector("[data-confirm-form]");
    var entry = root.querySelector("[data-card-entry]");
    var element = null;

    function showEntry() {
      var chosen = payForm.querySelector("input[name=card]:checked");
      var isNew = chosen && chosen.value === "new";
      entry.hidden = !isNew;
      if (isNew && !element) {
        element = cardElement(stripeFor(root.dataset.publishableKey), entry.querySelector("[data-card-element]"));
      }
    }

    if (payForm && entry) {
      payForm.addEventListener("change", showEntry);
      showEntry();
    }

    if (payForm) {
      payForm.addEventListener("submit", function (event) {
        event.preventDefault();
        if (payForm.dataset.busy) {
          return; // a second click while the first is on its way pays nothing more
        }
        var chosen = payForm.querySelector("input[name=card]:checked");
        var isNew = chosen && chosen.value === "new";
        if (isNew && !(element && element.entered)) {
          say(status, words.missing, "failed");
          return;
        }
        busy(payForm, true);
        say(status, isNew ? words.saving : words.paying, "processing");
        var card = isNew
          ? saveCard(root, payForm, element, false)
          : Promise.resolve(chosen ? chosen.value : "");
        card
          .then(function (cardId) {
            say(status, words.paying, "processing");
            return post(payForm.action, payForm, cardId ? { card: String(cardId) } : {});
          })
          .then(function (answer) {
            return settle(root, payForm, answer, status);
          })
          .then(function (answer) {
            if (!finish(status, answer)) {
              busy(payForm, false);
            }
          })
          .catch(function (error) {
            say(status, error.message, "failed");
            busy(payForm, false);
          });
      });
    }

    if (confirmForm) {
      confirmForm.addEventListener("submit", function (event) {
        var secret = confirmForm.dataset.clientSecret;
        if (!secret) {
          return; // "Check again": a plain post, answered with a redirect
        }
        event.preventDefault();
        if (confirmForm.dataset.busy) {
          return;
        }
        busy(confirmForm, true);
        settle(root, confirmForm, {
          state: "requires_action",
          client_secret: secret,
          confirm_url: confirmForm.action,
        }, status)
          .then(function (answer) {
            if (!finish(status, answer)) {
              window.location.reload();
            }
          })
          .catch(function (error) {
            say(status, error.message, "failed");
            busy(confirmForm, false);
          });
      });
    }
  }

  function setUpAddCard(root) {
    var form = root.querySelector("[data-add-card-form]");
    var status = root.querySelector("[data-testid=card-status]");
    var container = root.querySelector("[data-card-element]");
    if (!form || !container) {
      return;
    }
    var element = cardElement(stripeFor(root.dataset.publishableKey), container);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.busy) {
        return;
      }
      if (!element.entered) {
        say(status, words.missing, "failed");
        return;
      }
      var makeDefault = form.querySelector("input[name=make_default]");
      busy(form, true);
      say(status, words.saving, "processing");
      saveCard(root, form, element, makeDefault ? makeDefault.checked : true)
        .then(function () {
          window.location.reload();
        })
        .catch(function (error) {
          say(status, error.message, "failed");
          busy(form, false);
        });
    });
  }

  if (!window.Stripe) {
    return; // Stripe.js did not load: the forms post to the portal without it
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-pay-box]"), setUpPayBox);
  Array.prototype.forEach.call(document.querySelectorAll("[data-add-card]"), setUpAddCard);
})();
