/* Usage charts of a subscription (docs/usage.md). The data is the page's JSON island named by
 * the container's data-source; nothing is fetched. Needs the vendored Chart.js loaded first. */
(function () {
  "use strict";

  function cssColor(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function line(label, values, color, extra) {
    var dataset = {
      label: label,
      data: values,
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2,
      pointRadius: 0,
      pointHitRadius: 6,
      spanGaps: false,
      tension: 0,
    };
    return Object.assign(dataset, extra || {});
  }

  // "2027-03-10" as "Mar 10" in the reader's language (the days are calendar days, not times).
  function shortDay(value) {
    var label = this.getLabelForValue(value);
    var day = new Date(label + "T00:00:00Z");
    if (isNaN(day.getTime())) {
      return label;
    }
    return day.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
  }

  function options(yTitle, integer) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true, pointStyle: "line" } },
      },
      scales: {
        x: { ticks: { maxTicksLimit: 8, autoSkip: true, maxRotation: 0, callback: shortDay } },
        y: {
          beginAtZero: true,
          title: { display: true, text: yTitle },
          ticks: integer ? { precision: 0 } : {},
        },
      },
    };
  }

  function hasValues(values) {
    return values.some(function (v) { return v !== null && v !== undefined; });
  }

  function draw(container) {
    var island = document.getElementById(container.getAttribute("data-source"));
    if (!island || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(island.textContent);
    var brand = cssColor("--brand", "#1f6feb");
    var accent = cssColor("--accent", "#d97706");
    var muted = "#6b7280";

    var storage = container.querySelector("canvas[data-series='storage']");
    if (storage) {
      var storageSets = [line("Storage used (GB)", data.storage_gb, brand)];
      if (hasValues(data.included_gb)) {
        storageSets.push(
          line("Included storage (GB)", data.included_gb, muted, { borderDash: [6, 4], stepped: true })
        );
      }
      new window.Chart(storage, {
        type: "line",
        data: { labels: data.days, datasets: storageSets },
        options: options("GB", false),
      });
    }

    var users = container.querySelector("canvas[data-series='users']");
    if (users) {
      new window.Chart(users, {
        type: "line",
        data: {
          labels: data.days,
          datasets: [
            line("Active users", data.active_users, brand),
            line("Seats bought", data.seats, muted, { borderDash: [6, 4], stepped: true }),
            line("Seats assigned", data.seats_held, accent, { borderWidth: 1 }),
          ],
        },
        options: options("Users", true),
      });
    }
  }

  function start() {
    var containers = document.querySelectorAll("[data-usage-chart]");
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
