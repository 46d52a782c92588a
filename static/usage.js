// The usage page's chart: messages per day of the month, from the page's JSON (/usage.json?month=...).
// Drawn when the page loads and again whenever htmx swaps in another month. The table under the chart
// has the same figures, so the page says everything without JavaScript.
(function () {
  "use strict";

  const SERIES = [
    { key: "sent", label: "Sent", colour: "#2f6fba" },
    { key: "delivered", label: "Delivered", colour: "#1f8a4c" },
    { key: "failed", label: "Failed", colour: "#c62828" },
    { key: "received", label: "Received", colour: "#b38600" },
  ];

  function chartConfig(data) {
    return {
      type: "bar",
      data: {
        labels: data.days.map((day) => day.date),
        datasets: SERIES.map((s) => ({
          label: s.label,
          data: data.days.map((day) => day[s.key]),
          backgroundColor: s.colour,
        })),
      },
      options: {
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { callback(value) { return this.getLabelForValue(value).slice(8); } } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    };
  }

  function failed(canvas) {
    const note = document.createElement("p");
    note.className = "list-note";
    note.textContent = "The chart could not be loaded; the table below has the figures.";
    canvas.replaceWith(note);
  }

  function draw(canvas) {
    const source = canvas.dataset.usageChart;
    // htmx may settle the same content twice; draw each month once per canvas.
    if (!window.Chart || canvas.dataset.drawn === source) return;
    canvas.dataset.drawn = source;
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        if (!canvas.isConnected) return; // another month was swapped in meanwhile
        const previous = window.Chart.getChart(canvas);
        if (previous) previous.destroy();
        new window.Chart(canvas, chartConfig(data));
      })
      .catch(() => failed(canvas));
  }

  function drawAll() {
    if (window.Chart) {
      // Charts of a month that was swapped out: let them go.
      Object.values(window.Chart.instances).forEach((chart) => { if (!chart.canvas.isConnected) chart.destroy(); });
    }
    document.querySelectorAll("canvas[data-usage-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
