// The campaign report's charts (Chart.js, vendored) and, while the campaign is live, the refresh of
// its charts and figures. Everything comes from report.json; the page's HTML already shows the same
// figures, so without this script (or without Chart.js) nothing is lost but the pictures.
(() => {
  "use strict";

  const STATUS_COLOURS = {
    DELIVERED: "#1f8a4c", SENT: "#5b9bd5", SENDING: "#8fb8e0", QUEUED: "#c9a227",
    SCHEDULED: "#d8dde6", FAILED: "#c62828", CANCELLED: "#9aa3b2",
  };
  const DELIVERED = "#1f8a4c";
  const FAILED = "#c62828";
  const LATENCY = "#2f6fb2";

  function start() {
    const root = document.getElementById("campaign-report");
    if (!root || typeof window.Chart === "undefined") return;
    const report = { root, url: root.dataset.reportUrl, live: root.dataset.live === "true", charts: null, timer: null };
    load(report);
  }

  async function load(report) {
    let data;
    try {
      const response = await fetch(report.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(`report.json answered ${response.status}`);
      data = await response.json();
    } catch (error) {
      // A failed refresh keeps what is shown; the next one tries again while the campaign is live.
      console.warn("campaign report:", error);
      schedule(report, report.live, Number(report.root.dataset.refreshSeconds) || 5);
      return;
    }
    report.live = data.live;
    if (report.charts) {
      update(report.charts, data);
    } else {
      report.charts = draw(data);
    }
    showFigures(report.root, data.figures);
    schedule(report, data.live, data.refresh_seconds);
  }

  function schedule(report, live, seconds) {
    clearTimeout(report.timer);
    if (live) report.timer = setTimeout(() => load(report), seconds * 1000);
    const note = document.getElementById("report-live");
    if (note && !live) note.hidden = true;
  }

  function showFigures(root, figures) {
    for (const element of root.querySelectorAll("[data-figure]")) {
      const value = figures[element.dataset.figure];
      if (value !== undefined && element.textContent !== value) element.textContent = value;
    }
  }

  // -- the three charts ------------------------------------------------------------------------

  function draw(data) {
    const Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    return {
      statuses: new Chart(document.getElementById("chart-statuses"), {
        type: "doughnut",
        data: statusData(data),
        options: { aspectRatio: 3, animation: false, plugins: { legend: { position: "right" } } },
      }),
      timeline: new Chart(document.getElementById("chart-timeline"), {
        type: "bar",
        data: timelineData(data),
        options: {
          aspectRatio: 3, animation: false,
          scales: {
            x: { stacked: true, title: { display: true, text: `${data.timeline.bucket} (${data.timezone})` } },
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
          },
          interaction: { mode: "index", intersect: false },
        },
      }),
      latency: new Chart(document.getElementById("chart-latency"), {
        type: "bar",
        data: latencyData(data),
        options: {
          aspectRatio: 3, animation: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { display: false } },
        },
      }),
    };
  }

  function update(charts, data) {
    replaceData(charts.statuses, statusData(data));
    replaceData(charts.timeline, timelineData(data));
    charts.timeline.options.scales.x.title.text = `${data.timeline.bucket} (${data.timezone})`;
    replaceData(charts.latency, latencyData(data));
    for (const chart of Object.values(charts)) chart.update("none");
  }

  function replaceData(chart, fresh) {
    chart.data.labels = fresh.labels;
    fresh.datasets.forEach((dataset, i) => {
      const shown = chart.data.datasets[i];
      if (!shown) chart.data.datasets.push(dataset);
      else Object.assign(shown, { data: dataset.data, backgroundColor: dataset.backgroundColor });
    });
  }

  function statusData(data) {
    // Statuses with no messages would only crowd the legend.
    const shown = data.statuses.filter((s) => s.count > 0);
    return {
      labels: shown.map((s) => s.status.toLowerCase()),
      datasets: [{ data: shown.map((s) => s.count), backgroundColor: shown.map((s) => STATUS_COLOURS[s.status] || "#999") }],
    };
  }

  function timelineData(data) {
    return {
      labels: data.timeline.labels,
      datasets: [
        { label: "delivered", data: data.timeline.delivered, backgroundColor: DELIVERED },
        { label: "failed", data: data.timeline.failed, backgroundColor: FAILED },
      ],
    };
  }

  function latencyData(data) {
    const buckets = data.time_to_delivery.buckets;
    return {
      labels: buckets.map((b) => b.label),
      datasets: [{ label: "messages", data: buckets.map((b) => b.count), backgroundColor: LATENCY }],
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
