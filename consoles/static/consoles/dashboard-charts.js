/* The seller dashboard's charts (docs/consoles.md). The figures are computed on the server and
 * read from the page's JSON island named by the container's data-source; nothing is fetched.
 * Amounts arrive as decimal strings and are only turned into numbers to be drawn. Needs the
 * vendored Chart.js loaded first. */
(function () {
  "use strict";

  var STATE_COLOURS = {
    pending: "#d4a017",
    running: "#2f7fd8",
    succeeded: "#1e7e4a",
    failed: "#b42318",
    cancelled: "#8c93a3",
  };

  function cssColor(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function monthLabel(iso, last) {
    var day = new Date(iso + "T00:00:00Z");
    if (isNaN(day.getTime())) {
      return iso;
    }
    var options = last ? { month: "short", day: "numeric" } : { month: "short", year: "2-digit" };
    options.timeZone = "UTC";
    return (last ? "Today, " : "") + day.toLocaleDateString(undefined, options);
  }

  function money(value, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency }).format(value);
    } catch (e) {
      return value.toFixed(2) + " " + currency;
    }
  }

  function base(yTitle, integer) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { usePointStyle: true } } },
      scales: {
        x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 7 } },
        y: {
          beginAtZero: true,
          title: { display: !!yTitle, text: yTitle },
          ticks: integer ? { precision: 0 } : {},
        },
      },
    };
  }

  function draw(container) {
    var island = document.getElementById(container.getAttribute("data-source"));
    if (!island || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(island.textContent);
    var brand = cssColor("--brand", "#1f4e8c");
    var accent = cssColor("--accent", "#f2a900");
    var muted = "#8c93a3";
    var palette = [brand, accent, "#1e7e4a", "#7a3fb0", "#b42318", "#2f7fd8"];
    var months = data.months.map(function (iso, i) {
      return monthLabel(iso, i === data.months.length - 1);
    });

    var mrr = container.querySelector("canvas[data-chart='mrr']");
    if (mrr) {
      var options = base("", false);
      options.plugins.tooltip = {
        callbacks: {
          label: function (ctx) {
            return ctx.dataset.label + ": " + money(ctx.parsed.y, ctx.dataset.currency);
          },
        },
      };
      new window.Chart(mrr, {
        type: "line",
        data: {
          labels: months,
          datasets: data.mrr.map(function (series, i) {
            var colour = palette[i % palette.length];
            return {
              label: "Per month (" + series.currency + ")",
              currency: series.currency,
              data: series.values.map(Number),
              borderColor: colour,
              backgroundColor: colour,
              borderWidth: 2,
              tension: 0,
            };
          }),
        },
        options: options,
      });
    }

    var seats = container.querySelector("canvas[data-chart='seats']");
    if (seats) {
      var seatOptions = base("Seats", true);
      seatOptions.plugins.legend.display = false;
      new window.Chart(seats, {
        type: "bar",
        data: {
          labels: months,
          datasets: [{ label: "Seats sold", data: data.seats, backgroundColor: brand }],
        },
        options: seatOptions,
      });
    }

    var storage = container.querySelector("canvas[data-chart='storage']");
    if (storage) {
      var days = data.storage.days.map(function (iso) {
        var day = new Date(iso + "T00:00:00Z");
        return day.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
      });
      var included = data.storage.days.map(function () { return data.storage.included_gb; });
      new window.Chart(storage, {
        type: "line",
        data: {
          labels: days,
          datasets: [
            {
              label: "Used (GB)",
              data: data.storage.used_gb,
              borderColor: brand,
              backgroundColor: brand,
              borderWidth: 2,
              pointRadius: 0,
              pointHitRadius: 6,
            },
            {
              label: "Included (GB)",
              data: included,
              borderColor: muted,
              backgroundColor: muted,
              borderDash: [6, 4],
              borderWidth: 2,
              pointRadius: 0,
            },
          ],
        },
        options: base("GB", false),
      });
    }

    var jobs = container.querySelector("canvas[data-chart='jobs']");
    if (jobs) {
      var jobOptions = base("Jobs", true);
      jobOptions.plugins.legend.display = false;
      jobOptions.indexAxis = "y";
      jobOptions.scales = {
        x: { beginAtZero: true, ticks: { precision: 0 } },
        y: { ticks: { autoSkip: false } },
      };
      new window.Chart(jobs, {
        type: "bar",
        data: {
          labels: data.jobs.labels,
          datasets: [
            {
              label: "Jobs",
              data: data.jobs.counts,
              backgroundColor: data.jobs.states.map(function (s) { return STATE_COLOURS[s] || muted; }),
            },
          ],
        },
        options: jobOptions,
      });
    }

    var resellers = container.querySelector("canvas[data-chart='by_reseller']");
    if (resellers) {
      var resellerOptions = base("", false);
      resellerOptions.indexAxis = "y";
      resellerOptions.plugins.legend.display = false;
      resellerOptions.scales = { x: { beginAtZero: true }, y: { ticks: { autoSkip: false } } };
      resellerOptions.plugins.tooltip = {
        callbacks: {
          label: function (ctx) {
            var row = data.by_reseller[ctx.dataIndex];
            return money(Number(row.total), row.currency);
          },
        },
      };
      new window.Chart(resellers, {
        type: "bar",
        data: {
          labels: data.by_reseller.map(function (r) { return r.reseller + " (" + r.currency + ")"; }),
          datasets: [
            {
              label: "Revenue",
              data: data.by_reseller.map(function (r) { return Number(r.total); }),
              backgroundColor: data.by_reseller.map(function (r, i) { return palette[i % palette.length]; }),
            },
          ],
        },
        options: resellerOptions,
      });
    }
  }

  function start() {
    var containers = document.querySelectorAll("[data-dashboard-charts]");
    for (var i = 0; i < containers.length; i++) {
      draw(containers[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
