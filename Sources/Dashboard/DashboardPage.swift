/// The dashboard's page: HTML, CSS and script in one document, embedded in the binary. Charts
/// are drawn with d3 (version 3, as Debian's libjs-d3 ships it), served by the dashboard itself
/// from `/d3.js`: nothing is fetched from the network.
///
/// It polls `/api/studies` and the open study's `trials?since=` every 2 s, so a running study's
/// trials appear as they finish.
enum DashboardPage {
    static let html = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>autotune dashboard</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
    body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
    header { background: #24292e; color: #fff; padding: 8px 16px; display: flex; gap: 16px; align-items: baseline; }
    header h1 { font-size: 16px; margin: 0; }
    #layout { display: grid; grid-template-columns: 260px 1fr; min-height: calc(100vh - 40px); }
    nav { border-right: 1px solid #ddd; background: #fff; overflow-y: auto; }
    nav .study { padding: 8px 12px; border-bottom: 1px solid #eee; cursor: pointer; }
    nav .study:hover, nav .study.open { background: #eef4ff; }
    nav .study small { color: #666; display: block; }
    main { padding: 12px 16px; overflow-x: hidden; }
    .panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 12px; }
    .panel { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 8px; }
    .panel h2 { font-size: 13px; margin: 0 0 6px; }
    .wide { grid-column: 1 / -1; }
    #pc { overflow-x: auto; }
    svg { display: block; }
    .axis path, .axis line { fill: none; stroke: #999; shape-rendering: crispEdges; }
    .axis text { font-size: 10px; }
    circle.trial { fill: #9bb; opacity: .55; }
    circle.front { fill: #d62728; opacity: .95; stroke: #600; }
    circle.selected { stroke: #000; stroke-width: 2px; }
    .curve { fill: none; stroke: #3a7; opacity: .6; }
    .curve.pruned { stroke: #c63; stroke-dasharray: 3 3; }
    .pc .line { fill: none; stroke: #4682b4; opacity: .35; }
    .pc .line.front { stroke: #d62728; opacity: .9; }
    .pc .line.hidden { stroke: #ddd; opacity: .15; }
    .brush .extent { fill: #000; fill-opacity: .12; stroke: #fff; }
    #tooltip { position: fixed; pointer-events: none; background: #fff; border: 1px solid #888; padding: 4px 6px; font-size: 11px; display: none; max-width: 420px; white-space: pre; }
    #table { height: 340px; overflow-y: auto; position: relative; border: 1px solid #eee; }
    #table table { border-collapse: collapse; width: 100%; position: absolute; }
    #table th { position: sticky; top: 0; background: #f0f0f0; cursor: pointer; text-align: left; padding: 2px 6px; }
    #table td { padding: 1px 6px; border-top: 1px solid #f3f3f3; white-space: nowrap; height: 20px; }
    #table tr.sel td { background: #ffe; }
    .regression { color: #c00; font-weight: bold; }
    .improvement { color: #080; }
    code { background: #f4f4f4; padding: 1px 4px; display: block; margin: 2px 0; white-space: pre-wrap; }
    #status { color: #bbb; font-size: 12px; }
    </style></head>
    <body>
    <header><h1>autotune dashboard</h1><span id="store"></span><span id="status"></span></header>
    <div id="layout"><nav id="studies"></nav><main id="main"><p>Choose a study.</p></main></div>
    <div id="tooltip"></div>
    <script src="/d3.js"></script>
    <script>
    "use strict";
    var state = { study: null, info: null, trials: {}, order: [], cursor: 0, frontCursor: -1, importanceCursor: -1, front: [], hv: null, selected: null,
                  sort: { key: "number", asc: true }, filter: "", brushes: {}, running: 0, angle: 0.6, tilt: 0.4 };
    var tooltip = d3.select("#tooltip");
    function get(url, done) { d3.json(url, function (error, data) { if (error) { d3.select("#status").text("offline: " + url); return; } d3.select("#status").text("updated " + new Date().toLocaleTimeString()); done(data); }); }
    function fmt(x) { return x == null ? "–" : (typeof x === "number" ? (Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : +x.toPrecision(5)) : String(x)); }
    function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
    function describe(t) {
      var lines = ["trial " + t.number + " (" + t.state + ")"];
      Object.keys(t.metrics).forEach(function (k) { lines.push(k + " = " + fmt(t.metrics[k])); });
      Object.keys(t.parameters).forEach(function (k) { lines.push(k + ": " + JSON.stringify(t.parameters[k])); });
      return lines.join("\\n");
    }
    function hover(t) { tooltip.style("display", "block").text(describe(t)).style("left", (d3.event.clientX + 14) + "px").style("top", (d3.event.clientY + 10) + "px"); }
    function unhover() { tooltip.style("display", "none"); }

    // ---- the list of studies
    function loadStudies() {
      get("/api/studies", function (data) {
        d3.select("#store").text(data.store);
        var rows = d3.select("#studies").selectAll("div.study").data(data.studies, function (s) { return s.name; });
        rows.enter().append("div").attr("class", "study").on("click", function (s) { openStudy(s.name); });
        rows.exit().remove();
        data.studies.forEach(function (s) { if (s.name === state.study) state.running = s.counts.RUNNING; });
        rows.classed("open", function (s) { return s.name === state.study; })
          .attr("id", function (s) { return "study-" + s.name; })
          .html(function (s) {
            return "<b>" + esc(s.name) + "</b> <span class='count'>" + s.trials + "</span> trials<small>" +
              s.counts.COMPLETE + " complete · " + s.counts.RUNNING + " running · " + s.counts.FAIL + " failed · " + s.counts.PRUNED + " pruned" +
              (s.counts.STALE ? " · " + s.counts.STALE + " stale" : "") + "<br>" +
              esc(s.strategy) + " · " + (s.last_activity ? new Date(s.last_activity).toLocaleString() : "no trials yet") + "</small>";
          });
      });
    }

    // ---- one study
    function openStudy(name) {
      state.study = name; state.trials = {}; state.order = []; state.cursor = 0; state.frontCursor = -1; state.importanceCursor = -1; state.selected = null; state.brushes = {};
      d3.selectAll("nav .study").classed("open", function (s) { return s.name === name; });
      get("/api/studies/" + encodeURIComponent(name), function (info) {
        state.info = info;
        var main = d3.select("#main").html("");
        main.append("h2").attr("id", "title").text(info.name);
        main.append("p").attr("id", "summary");
        var panels = main.append("div").attr("class", "panels");
        panels.append("div").attr("class", "panel").attr("id", "front-panel").html("<h2>Pareto front</h2><div id='front'></div>");
        panels.append("div").attr("class", "panel").html("<h2>Hypervolume over trials</h2><div id='hv'></div>");
        panels.append("div").attr("class", "panel").html("<h2>Learning curves <small>(pruned dashed)</small></h2><div id='curves'></div>");
        panels.append("div").attr("class", "panel").html("<h2>Selected trial</h2><div id='selected'>Click a point or a row.</div>");
        panels.append("div").attr("class", "panel").html("<h2>Parameter importance <small>(PED-ANOVA)</small></h2><div id='importance'></div>");
        panels.append("div").attr("class", "panel wide").html("<h2>Parallel coordinates <small>(drag on an axis to filter)</small></h2><div id='pc'></div>");
        panels.append("div").attr("class", "panel wide").html("<h2>Trials <input id='filter' placeholder='filter: text, or metric>0.8'></h2><div id='table'></div>");
        panels.append("div").attr("class", "panel wide").html("<h2>Nightly benchmarks</h2><div id='nightly'></div>");
        d3.select("#filter").on("input", function () { state.filter = this.value; drawTable(); });
        poll(true);
        loadNightly();
      });
    }

    function poll(first) {
      if (!state.study) return;
      var name = state.study;
      get("/api/studies/" + encodeURIComponent(name) + "/trials?since=" + state.cursor, function (data) {
        if (name !== state.study) return;
        data.trials.forEach(function (t) { if (!state.trials[t.number]) state.order.push(t.number); state.trials[t.number] = t; });
        // The front and importances are kept by the server for a moment; ask again until they
        // are as new as the trials.
        var changed = first || data.trials.length > 0 || data.cursor !== state.cursor ||
          state.frontCursor !== data.cursor || state.importanceCursor !== data.cursor;
        state.cursor = data.cursor;
        if (changed) {
          state.order.sort(function (a, b) { return a - b; });
          get("/api/studies/" + encodeURIComponent(name) + "/front", function (front) {
            if (name !== state.study) return;
            state.front = front.front.map(function (t) { return t.number; }); state.hv = front.hypervolume;
            state.frontCursor = front.cursor;
            drawAll();
          });
          get("/api/studies/" + encodeURIComponent(name) + "/importance", function (importance) {
            if (name === state.study) { state.importanceCursor = importance.cursor; drawImportance(importance); }
          });
        } else { drawSummary(); }
      });
    }

    function objectives() { return state.info.objectives; }
    function allTrials() { return state.order.map(function (n) { return state.trials[n]; }); }
    function drawAll() { drawSummary(); drawFront(); drawHypervolume(); drawCurves(); drawParallel(); drawTable(); drawSelected(); }
    function drawSummary() {
      var i = state.info, n = state.order.length;
      d3.select("#summary").html(esc(i.evaluator) + " evaluator · " + esc(i.strategy) + " · seed " + i.seed + " · <b id='trial-count'>" + n +
        "</b> finished trials" + (i.budget ? " of " + i.budget : "") + " · " + state.running + " running · <span id='front-count'>" +
        state.front.length + "</span> on the front · objectives: " +
        i.objectives.map(function (o) { return esc(o.metric) + " (" + o.direction + ")"; }).join(", "));
    }

    // ---- Pareto front: a scatter for two objectives, a pairwise matrix and a 3-D view for more
    function sampled(trials, limit) {
      if (trials.length <= limit) return trials;
      var step = trials.length / limit, out = [];
      for (var k = 0; k < limit; k++) out.push(trials[Math.floor(k * step)]);
      return out;
    }
    function scatter(svg, size, xm, ym, points, front) {
      var pad = 46, w = size, h = size;
      var xs = points.concat(front).map(function (t) { return t.metrics[xm]; }), ys = points.concat(front).map(function (t) { return t.metrics[ym]; });
      var x = d3.scale.linear().domain(d3.extent(xs)).nice().range([pad, w - 6]);
      var y = d3.scale.linear().domain(d3.extent(ys)).nice().range([h - pad + 10, 6]);
      svg.append("g").attr("class", "axis").attr("transform", "translate(0," + (h - pad + 10) + ")").call(d3.svg.axis().scale(x).ticks(4));
      svg.append("g").attr("class", "axis").attr("transform", "translate(" + pad + ",0)").call(d3.svg.axis().scale(y).orient("left").ticks(4));
      svg.append("text").attr("x", w / 2).attr("y", h - 2).attr("text-anchor", "middle").attr("font-size", 10).text(xm);
      svg.append("text").attr("transform", "translate(9," + (h / 2) + ") rotate(-90)").attr("text-anchor", "middle").attr("font-size", 10).text(ym);
      function dots(data, cls) {
        svg.append("g").selectAll("circle").data(data.filter(function (t) { return t.metrics[xm] != null && t.metrics[ym] != null; })).enter().append("circle")
          .attr("class", cls).attr("r", cls === "front" ? 4 : 2.5)
          .attr("id", function (t) { return cls === "front" ? "front-" + t.number : null; })
          .classed("selected", function (t) { return t.number === state.selected; })
          .attr("cx", function (t) { return x(t.metrics[xm]); }).attr("cy", function (t) { return y(t.metrics[ym]); })
          .on("mouseover", hover).on("mouseout", unhover).on("click", function (t) { select(t.number); });
      }
      dots(points, "trial"); dots(front, "front");
    }
    function drawFront() {
      var div = d3.select("#front").html(""), obj = objectives().map(function (o) { return o.metric; });
      var frontSet = {}; state.front.forEach(function (n) { frontSet[n] = true; });
      var done = allTrials().filter(function (t) { return t.state === "COMPLETE" || t.state === "INFEASIBLE"; });
      var front = state.front.map(function (n) { return state.trials[n]; }).filter(Boolean);
      var rest = sampled(done.filter(function (t) { return !frontSet[t.number]; }), 4000);
      if (obj.length === 1) { scatter(div.append("svg").attr("width", 420).attr("height", 300), 300, "number", obj[0], [], []); return; }
      if (obj.length === 2) { scatter(div.append("svg").attr("width", 420).attr("height", 420), 420, obj[0], obj[1], rest, front); return; }
      var cell = Math.max(140, Math.floor(420 / (obj.length - 1)));
      var matrix = div.append("div").style("display", "grid").style("grid-template-columns", "repeat(" + (obj.length - 1) + ", " + cell + "px)");
      for (var r = 1; r < obj.length; r++) for (var c = 0; c < obj.length - 1; c++) {
        var svg = matrix.append("svg").attr("width", cell).attr("height", cell);
        if (c < r) scatter(svg, cell, obj[c], obj[r], rest, front);
      }
      if (obj.length >= 3) draw3D(div, obj, rest, front);
    }
    // A rotatable orthographic view of the first three objectives (drag to turn it).
    function draw3D(div, obj, rest, front) {
      div.append("p").text("3-D view of " + obj.slice(0, 3).join(", ") + " (drag to rotate)");
      var size = 380, svg = div.append("svg").attr("width", size).attr("height", size).attr("id", "front-3d").style("cursor", "move");
      var pts = rest.concat(front), scales = obj.slice(0, 3).map(function (m) {
        return d3.scale.linear().domain(d3.extent(pts, function (t) { return t.metrics[m]; })).range([-1, 1]);
      });
      function render() {
        svg.selectAll("*").remove();
        var ca = Math.cos(state.angle), sa = Math.sin(state.angle), ct = Math.cos(state.tilt), st = Math.sin(state.tilt);
        function project(v) { var x = v[0] * ca - v[1] * sa, y = v[0] * sa + v[1] * ca; return [size / 2 + x * size * 0.32, size / 2 - (v[2] * ct - y * st) * size * 0.32, y * ct + v[2] * st]; }
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]].forEach(function (a, k) {
          var o = project([-1, -1, -1]), e = project([-1 + 2 * a[0], -1 + 2 * a[1], -1 + 2 * a[2]]);
          svg.append("line").attr("x1", o[0]).attr("y1", o[1]).attr("x2", e[0]).attr("y2", e[1]).attr("stroke", "#888");
          svg.append("text").attr("x", e[0]).attr("y", e[1]).attr("font-size", 10).text(obj[k]);
        });
        var frontSet = {}; front.forEach(function (t) { frontSet[t.number] = true; });
        var placed = pts.map(function (t) { var p = project(scales.map(function (s, k) { return s(t.metrics[obj[k]]); })); return { t: t, p: p }; })
          .sort(function (a, b) { return a.p[2] - b.p[2]; });
        svg.selectAll("circle").data(placed).enter().append("circle")
          .attr("class", function (d) { return frontSet[d.t.number] ? "front" : "trial"; }).attr("r", function (d) { return frontSet[d.t.number] ? 4 : 2; })
          .attr("cx", function (d) { return d.p[0]; }).attr("cy", function (d) { return d.p[1]; })
          .on("mouseover", function (d) { hover(d.t); }).on("mouseout", unhover).on("click", function (d) { select(d.t.number); });
      }
      svg.call(d3.behavior.drag().on("drag", function () { state.angle += d3.event.dx * 0.01; state.tilt += d3.event.dy * 0.01; render(); }));
      render();
    }

    // ---- hypervolume, learning curves
    function lineChart(div, series, xLabel, yLabel, dashed) {
      var w = 430, h = 260, pad = 52;
      var svg = div.append("svg").attr("width", w).attr("height", h);
      var xs = [], ys = [];
      series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
      if (!xs.length) { div.append("p").text("nothing to draw yet"); return; }
      var x = d3.scale.linear().domain(d3.extent(xs)).nice().range([pad, w - 8]);
      var y = d3.scale.linear().domain(d3.extent(ys)).nice().range([h - pad + 12, 6]);
      svg.append("g").attr("class", "axis").attr("transform", "translate(0," + (h - pad + 12) + ")").call(d3.svg.axis().scale(x).ticks(5));
      svg.append("g").attr("class", "axis").attr("transform", "translate(" + pad + ",0)").call(d3.svg.axis().scale(y).orient("left").ticks(5));
      svg.append("text").attr("x", w / 2).attr("y", h - 2).attr("text-anchor", "middle").attr("font-size", 10).text(xLabel);
      svg.append("text").attr("transform", "translate(9," + (h / 2) + ") rotate(-90)").attr("text-anchor", "middle").attr("font-size", 10).text(yLabel);
      var line = d3.svg.line().x(function (p) { return x(p[0]); }).y(function (p) { return y(p[1]); });
      series.forEach(function (s) {
        svg.append("path").attr("class", "curve" + (s.pruned ? " pruned" : "")).attr("d", line(s.points))
          .on("mouseover", function () { if (s.trial) hover(s.trial); }).on("mouseout", unhover)
          .on("click", function () { if (s.trial) select(s.trial.number); });
      });
    }
    function drawHypervolume() {
      var div = d3.select("#hv").html("");
      if (!state.hv) { div.append("p").text("one objective: no hypervolume"); return; }
      div.append("small").text("reference point: " + state.hv.reference_point.map(fmt).join(", "));
      lineChart(div, [{ points: state.hv.points }], "trials finished", "hypervolume");
    }
    function drawCurves() {
      var div = d3.select("#curves").html("");
      var withCurves = allTrials().filter(function (t) { return t.curve && t.curve.length; }).slice(-200);
      if (!withCurves.length) { div.append("p").text("no learning curves (the evaluator reports none)"); return; }
      var metric = Object.keys(withCurves[0].curve[0][1])[0];
      lineChart(div, withCurves.map(function (t) {
        return { trial: t, pruned: t.state === "PRUNED", points: t.curve.filter(function (c) { return c[1][metric] != null; }).map(function (c) { return [c[0], c[1][metric]]; }) };
      }), "epoch", metric);
    }

    // ---- parallel coordinates with brushing
    function dimensions() {
      var dims = state.info.parameters.map(function (p) { return { name: p, kind: "parameter" }; });
      objectives().forEach(function (o) { dims.push({ name: o.metric, kind: "metric" }); });
      return dims;
    }
    function value(t, d) { return d.kind === "metric" ? t.metrics[d.name] : t.parameters[d.name]; }
    function drawParallel() {
      var div = d3.select("#pc").html(""), dims = dimensions(), trials = sampled(allTrials().filter(function (t) { return t.state === "COMPLETE"; }), 2000);
      var w = Math.max(600, dims.length * 110), h = 300, top = 24, bottom = 20;
      var svg = div.append("svg").attr("class", "pc").attr("width", w).attr("height", h);
      var x = d3.scale.ordinal().domain(dims.map(function (d) { return d.name; })).rangePoints([60, w - 60]);
      var scales = {};
      dims.forEach(function (d) {
        var vals = trials.map(function (t) { return value(t, d); }).filter(function (v) { return v != null; });
        if (vals.length && vals.every(function (v) { return typeof v === "number"; })) scales[d.name] = d3.scale.linear().domain(d3.extent(vals)).nice().range([h - bottom, top]);
        else scales[d.name] = d3.scale.ordinal().domain(d3.set(vals.map(function (v) { return JSON.stringify(v); })).values()).rangePoints([h - bottom, top]);
      });
      function y(d, t) { var v = value(t, d); if (v == null) return null; var s = scales[d.name]; return s.rangeBand ? s(JSON.stringify(v)) : s(v); }
      var frontSet = {}; state.front.forEach(function (n) { frontSet[n] = true; });
      var path = svg.append("g").selectAll("path").data(trials).enter().append("path")
        .attr("class", function (t) { return "line" + (frontSet[t.number] ? " front" : ""); })
        .attr("d", function (t) { var pts = dims.map(function (d) { var v = y(d, t); return v == null ? null : [x(d.name), v]; }).filter(Boolean); return d3.svg.line()(pts); })
        .on("mouseover", hover).on("mouseout", unhover).on("click", function (t) { select(t.number); });
      var axes = svg.selectAll("g.dim").data(dims).enter().append("g").attr("class", "dim").attr("transform", function (d) { return "translate(" + x(d.name) + ")"; });
      axes.append("g").attr("class", "axis").each(function (d) { d3.select(this).call(d3.svg.axis().scale(scales[d.name]).orient("left").ticks(5)); });
      axes.append("text").attr("y", 12).attr("text-anchor", "middle").attr("font-size", 10).text(function (d) { return d.name.split(".").pop(); })
        .append("title").text(function (d) { return d.name; });
      axes.append("g").attr("class", "brush").each(function (d) {
        var s = scales[d.name];
        if (s.rangeBand) return;
        var brush = d3.svg.brush().y(s).on("brush", function () { state.brushes[d.name] = brush.empty() ? null : brush.extent(); filterLines(); });
        d3.select(this).call(brush).selectAll("rect").attr("x", -8).attr("width", 16);
      });
      function filterLines() {
        path.classed("hidden", function (t) {
          return dims.some(function (d) { var e = state.brushes[d.name]; if (!e) return false; var v = value(t, d); return v == null || v < e[0] || v > e[1]; });
        });
      }
    }

    // ---- the trials table: sortable, filterable, only the visible rows drawn
    function rowsForTable() {
      var f = state.filter.trim(), rows = allTrials();
      var m = f.match(/^([\\w.@-]+)\\s*(<=|>=|<|>|=)\\s*(-?[\\d.eE+-]+)$/);
      if (m) {
        var key = m[1], op = m[2], bound = +m[3];
        rows = rows.filter(function (t) { var v = t.metrics[key] != null ? t.metrics[key] : t.parameters[key]; if (typeof v !== "number") return false;
          return op === "<" ? v < bound : op === ">" ? v > bound : op === "<=" ? v <= bound : op === ">=" ? v >= bound : v === bound; });
      } else if (f) {
        rows = rows.filter(function (t) { return describe(t).toLowerCase().indexOf(f.toLowerCase()) >= 0; });
      }
      var k = state.sort.key, dir = state.sort.asc ? 1 : -1;
      function keyOf(t) { return k === "number" ? t.number : k === "state" ? t.state : (t.metrics[k] != null ? t.metrics[k] : t.parameters[k]); }
      return rows.slice().sort(function (a, b) { var x = keyOf(a), y = keyOf(b); if (x == null) return 1; if (y == null) return -1; return (x < y ? -1 : x > y ? 1 : 0) * dir; });
    }
    function drawTable() {
      var box = d3.select("#table").html(""), rows = rowsForTable(), rowHeight = 21;
      var columns = ["number", "state"].concat(objectives().map(function (o) { return o.metric; }), state.info.parameters);
      var table = box.append("table"), head = table.append("thead").append("tr");
      head.selectAll("th").data(columns).enter().append("th").text(function (c) { return c.split(".").pop() + (state.sort.key === c ? (state.sort.asc ? " ▲" : " ▼") : ""); })
        .attr("title", function (c) { return c; }).on("click", function (c) { state.sort = { key: c, asc: state.sort.key === c ? !state.sort.asc : true }; drawTable(); });
      var body = table.append("tbody");
      box.append("div").style("height", (rows.length * rowHeight + 30) + "px");
      function render() {
        var node = box.node(), first = Math.max(0, Math.floor(node.scrollTop / rowHeight) - 5), count = Math.ceil(node.clientHeight / rowHeight) + 10;
        table.style("top", (first * rowHeight) + "px");
        var visible = rows.slice(first, first + count);
        var tr = body.selectAll("tr").data(visible, function (t) { return t.number; });
        tr.enter().append("tr").on("click", function (t) { select(t.number); });
        tr.exit().remove();
        tr.order().classed("sel", function (t) { return t.number === state.selected; }).attr("id", function (t) { return "row-" + t.number; })
          .html(function (t) { return columns.map(function (c) { var v = c === "number" ? t.number : c === "state" ? t.state : (t.metrics[c] != null ? t.metrics[c] : t.parameters[c]);
            return "<td>" + esc(typeof v === "object" && v !== null ? JSON.stringify(v) : fmt(v)) + "</td>"; }).join(""); });
      }
      box.on("scroll", render);
      render();
    }

    // ---- the selected trial and its export commands
    function select(n) { state.selected = n; drawSelected(); d3.selectAll("circle").classed("selected", function (t) { return t && (t.number === n || (t.t && t.t.number === n)); }); d3.selectAll("#table tr").classed("sel", function (t) { return t && t.number === n; }); }
    function drawSelected() {
      var div = d3.select("#selected"), t = state.trials[state.selected];
      if (!t) return;
      var formats = state.info.evaluator === "engine" ? ["deepspeed", "accelerate", "recipe", "onnx"] : state.info.evaluator === "benchmark" ? ["recipe"] : ["deepspeed", "accelerate", "recipe"];
      div.html("<pre>" + esc(describe(t)) + (t.message ? "\\n" + esc(t.message) : "") + "</pre><b>Export</b>" +
        formats.map(function (f) { return "<code>autotune export " + esc(state.study) + " --trial " + t.number + " --format " + f + "</code>"; }).join(""));
    }

    // ---- parameter importance: one bar chart per objective
    function drawImportance(data) {
      var div = d3.select("#importance").html("");
      if (!data.objectives.length) { div.append("p").text(data.note || "not enough trials yet"); return; }
      data.objectives.forEach(function (o) {
        div.append("p").html("<b>" + esc(o.metric) + "</b> (" + o.direction + "; best " + o.top_trials + " of " + o.trials + " trials)");
        var rows = o.parameters.slice(0, 12), w = 420, bar = 16, left = 150;
        var svg = div.append("svg").attr("width", w).attr("height", rows.length * bar + 4);
        var x = d3.scale.linear().domain([0, 1]).range([0, w - left - 50]);
        var g = svg.selectAll("g").data(rows).enter().append("g").attr("transform", function (p, i) { return "translate(0," + (i * bar + 2) + ")"; });
        g.append("text").attr("x", left - 6).attr("y", bar - 4).attr("text-anchor", "end").attr("font-size", 11).text(function (p) { return p.name.split(".").pop(); })
          .append("title").text(function (p) { return p.name; });
        g.append("rect").attr("x", left).attr("height", bar - 4).attr("width", function (p) { return x(p.importance); }).attr("fill", "#4682b4");
        g.append("text").attr("x", function (p) { return left + x(p.importance) + 4; }).attr("y", bar - 4).attr("font-size", 10).text(function (p) { return fmt(p.importance); });
      });
    }

    // ---- nightly history
    function loadNightly() {
      get("/api/nightly", function (data) {
        var div = d3.select("#nightly").html("");
        if (!data.runs.length) { div.append("p").text(data.note || "no nightly runs in this store (autotune bench nightly records them)"); return; }
        var latest = data.runs[0], byName = {};
        data.runs.slice().reverse().forEach(function (run) { run.metrics.forEach(function (m) { var k = m.suite + "/" + m.name; (byName[k] = byName[k] || []).push(m); }); });
        div.append("p").html("latest run " + latest.id + " (" + esc(latest.suite) + ", " + new Date(latest.started).toLocaleString() + ", " + latest.state + ")");
        var rows = div.append("table").selectAll("tr").data(latest.metrics).enter().append("tr");
        rows.append("td").text(function (m) { return m.suite + " / " + m.name; });
        rows.append("td").text(function (m) { return fmt(m.value) + " " + m.unit; });
        rows.append("td").attr("class", function (m) { return m.verdict; }).text(function (m) { return m.verdict; });
        rows.append("td").each(function (m) {
          var hist = byName[m.suite + "/" + m.name] || [], svg = d3.select(this).append("svg").attr("width", 160).attr("height", 24);
          var x = d3.scale.linear().domain([0, Math.max(1, hist.length - 1)]).range([2, 158]), y = d3.scale.linear().domain(d3.extent(hist, function (h) { return h.value; })).range([22, 2]);
          svg.append("path").attr("class", "curve").attr("d", d3.svg.line().x(function (h, i) { return x(i); }).y(function (h) { return y(h.value); })(hist));
          svg.selectAll("circle").data(hist.filter(function (h) { return h.verdict === "regression"; })).enter().append("circle").attr("r", 3).attr("fill", "#c00")
            .attr("cx", function (h) { return x(hist.indexOf(h)); }).attr("cy", function (h) { return y(h.value); });
        });
      });
    }

    loadStudies();
    setInterval(loadStudies, 2000);
    setInterval(function () { poll(false); }, 2000);
    var wanted = decodeURIComponent((location.hash || "").slice(1));
    if (wanted) openStudy(wanted);
    </script></body></html>
    """
}
