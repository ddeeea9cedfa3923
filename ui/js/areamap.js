/* Community fire risk atlas: the area map.
 *
 * Loaded once per map frame (after Leaflet). Every Streamlit rerun calls
 *     FireRiskMap.render(map, table)
 * with the style table of ui/mapview.py: style_table. The table carries everything this
 * script needs from Python, so no value is written twice:
 *   T.look     the drawing style (borders, hover, outlines) and T.look.alphabet, the
 *              characters that encode a class index (ui/mapview.py: map_look);
 *   T.colours  the fill colour of each class (0 = no data);
 *   T.cls      one character per area: its class (T.bnd: its band, when it differs);
 *   T.load / T.ov  the static GeoJSON files to draw (area mode / overview mode).
 * Files are fetched once and their polygons kept: a new table restyles them (setStyle),
 * shows or hides them, and fits the view when the filter changed (T.view).
 *
 * Extending the map: FireRiskMap.extend({setup: function (map, api) {...},
 * update: function (T, api) {...}}) adds a part (a context layer, a search box...).
 * setup runs once when the map is first rendered, update on every render, after the
 * areas have been restyled. api is FireRiskMap itself (api.state, api.decode, api.pane).
 */
(function () {
  "use strict";
  if (window.FireRiskMap) { return; }

  // ------------------------------------------------------------------ state
  var files = {}, fails = {}, retry = {}, parts = [];
  var S = {map: null, table: null, token: 0, done: 0, inflight: 0, areas: null, groups: null,
           outlines: null, ov: null, view: null, note: null, queued: false};

  function look() { return (S.table && S.table.look) || {}; }

  // ------------------------------------------------------------------ class codes
  var decoders = {};

  // Class index at position k of a class string (0 when missing or unknown).
  function decode(text, k) {
    var alphabet = look().alphabet || "";
    var index = decoders[alphabet];
    if (!index) {
      index = decoders[alphabet] = {};
      for (var i = 0; i < alphabet.length; i++) { index[alphabet.charAt(i)] = i; }
    }
    var c = text ? text.charAt(k) : "";
    return index[c] || 0;
  }

  // ------------------------------------------------------------------ files
  function load(url) {
    var f = files[url];
    if (f) { return f.promise; }
    f = files[url] = {url: url, data: null, layers: null, outline: null};
    S.inflight++;
    f.promise = fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status + " for " + url); }
      return r.json();
    }).then(function (data) { S.inflight--; f.data = data; return f; }, function (err) {
      S.inflight--;
      delete files[url];
      fails[url] = (fails[url] || 0) + 1;
      throw err;
    });
    return f.promise;
  }

  // URL of a group's file, named relative to the overview file.
  function resolve(name) {
    return new URL(name, new URL(S.table.ov, window.location.href)).href;
  }

  // ------------------------------------------------------------------ tooltips
  // Values in the files and labels in the table are HTML-escaped by Python.
  function tip(fieldsKey, bandsKey, classesKey, indexKey) {
    return function (layer) {
      var T = S.table, p = layer.feature.properties, rows = [];
      if (!T || !T[fieldsKey]) { return ""; }
      T[fieldsKey].forEach(function (f) {
        var v = p[f[0]], shown = T.vtext && T.vtext[f[0]];
        if (shown && Object.prototype.hasOwnProperty.call(shown, v)) { v = shown[v]; }
        if (f[0] === "b") {
          v = T.blabels[decode(T[bandsKey] || T[classesKey], p[indexKey])] || "";
          if (v && T.unc && p.u) { v += " (uncertain)"; }
        }
        if (v !== undefined && v !== null && v !== "") {
          rows.push("<tr><th>" + f[1] + "</th><td>" + v + "</td></tr>");
        }
      });
      return "<table>" + rows.join("") + "</table>";
    };
  }
  var areaTip = tip("fields", "bnd", "cls", "k");
  var groupTip = tip("gfields", "gbnd", "gcls", "q");

  // ------------------------------------------------------------------ polygons
  function over(e) { e.target.setStyle(look().hover); e.target.bringToFront(); }
  function out(e) {
    var a = look().area;
    e.target.setStyle({color: a.color, weight: a.weight});
  }

  function polygons(features, tooltip) {
    var style = Object.assign({}, look().area, {fillColor: S.table.colours[0]});
    return features.map(function (feature) {
      var layer = L.GeoJSON.geometryToLayer(feature, style);
      layer.feature = feature;
      layer.bindTooltip(tooltip, {sticky: true});
      layer.on({mouseover: over, mouseout: out});
      return layer;
    });
  }

  function areaLayers(f) {
    if (!f.layers) { f.layers = polygons(f.data.features, areaTip); }
    return f.layers;
  }

  function outlineLayer(f) {
    if (f.outline === null) {
      var lines = f.data.outlines || [], style = Object.assign({fill: false}, look().outline);
      f.outline = lines.length ? L.geoJSON({type: "GeometryCollection", geometries: lines},
        {style: function () { return style; }, interactive: false, pane: "frOutlines"})
        : false;
    }
    return f.outline || null;
  }

  function paint(layers, classes, indexKey) {
    var colours = S.table.colours;
    layers.forEach(function (l) {
      var colour = colours[decode(classes, l.feature.properties[indexKey])] || colours[0];
      if (l.options.fillColor !== colour) { l.setStyle({fillColor: colour}); }
    });
  }

  // Make *group* hold exactly the layers of *want*.
  function sync(group, want) {
    var keep = {};
    want.forEach(function (l) { keep[L.stamp(l)] = true; });
    group.eachLayer(function (l) { if (!keep[L.stamp(l)]) { group.removeLayer(l); } });
    want.forEach(function (l) { if (!group.hasLayer(l)) { group.addLayer(l); } });
  }

  // ------------------------------------------------------------------ message box and view
  function note(text) {
    if (!S.note) {
      var box = L.control({position: "topright"});
      box.onAdd = function () { return L.DomUtil.create("div", "fr-note"); };
      box.addTo(S.map);
      S.note = box.getContainer();
    }
    S.note.innerHTML = text || "";
    S.note.style.display = text ? "block" : "none";
  }

  function failed(what, err) {
    if (window.console) { console.error("firerisk: could not load " + what, err); }
    note("The map shapes could not be loaded. Reload the page to try again.");
  }

  function fit(T) {
    if (T.view === S.view) { return; }
    if (S.map._animatingZoom) {
      // Leaflet ignores a new view while a zoom animation runs: fit once it has ended.
      S.map.once("zoomend", function () { if (S.table === T) { fit(T); } });
      return;
    }
    S.view = T.view;
    S.map.fitBounds(T.bounds);
  }

  // ------------------------------------------------------------------ overview mode
  // One detail pass for the files that arrive together.
  function later() {
    if (S.queued) { return; }
    S.queued = true;
    window.setTimeout(function () { S.queued = false; detail(S.token); }, 0);
  }

  // The groups nearest the centre of the view, up to T.dmax small areas (at zoom >= T.dz).
  function nearGroups(T, f) {
    var map = S.map;
    if (map.getZoom() < T.dz) { return []; }
    var view = map.getBounds(), centre = view.getCenter(), budget = T.dmax;
    var near = f.layers.filter(function (g) { return view.intersects(g.getBounds()); });
    near.sort(function (a, b) {
      return centre.distanceTo(a.getBounds().getCenter()) -
        centre.distanceTo(b.getBounds().getCenter());
    });
    return near.filter(function (g) {
      budget -= g.feature.properties.a || 0;
      return budget >= 0;
    });
  }

  function fetchGroup(url) {
    var n = fails[url] || 0;
    if (files[url] || n > 90 || (retry[url] || 0) > Date.now()) { return; }  // loading/waiting
    load(url).then(later, function () {
      // Not written yet (the server writes the group files in the background, slowly on a
      // busy machine): try again after 1, 2, 4, 4, 4 ... seconds, for about six minutes.
      var wait = Math.min(1000 * Math.pow(2, n), 4000);
      retry[url] = Date.now() + wait;
      window.setTimeout(later, wait + 50);
    });
  }

  function detail(token) {
    var T = S.table, f = S.ov;
    if (token !== S.token || !T || T.mode !== "overview" || !f || !f.layers) { return; }
    var ready = {};
    nearGroups(T, f).forEach(function (g) {
      var url = resolve(g.feature.properties.f), file = files[url];
      if (file && file.data) { ready[L.stamp(g)] = file; } else { fetchGroup(url); }
    });
    var areas = [], groups = [], outlines = [];
    f.layers.forEach(function (g) {
      var file = ready[L.stamp(g)];
      if (!file) { groups.push(g); return; }
      Array.prototype.push.apply(areas, areaLayers(file));
      var o = outlineLayer(file);
      if (o) { outlines.push(o); }
    });
    paint(areas, T.cls, "k");
    sync(S.areas, areas);
    sync(S.groups, groups);
    sync(S.outlines, outlines);
  }

  function renderOverview(T, token) {
    load(T.ov).then(function (f) {
      if (token !== S.token) { return; }
      if (!f.layers) { f.layers = polygons(f.data.features, groupTip); }
      S.ov = f;
      paint(f.layers, T.gcls, "q");
      fit(T);
      detail(token);
      updateParts(T);
      S.done = token;
    }).catch(function (err) { S.done = token; failed(T.ov, err); });
  }

  // ------------------------------------------------------------------ area mode
  function renderAreas(T, token) {
    S.ov = null;
    Promise.all(T.load.map(load)).then(function (fs) {
      if (token !== S.token) { return; }
      var shown = null, areas = [], outlines = [];
      if (T.shown) { shown = {}; T.shown.forEach(function (k) { shown[k] = true; }); }
      fs.forEach(function (f) {
        areaLayers(f).forEach(function (l) {
          if (!shown || shown[l.feature.properties.k]) { areas.push(l); }
        });
        var o = outlineLayer(f);
        if (o) { outlines.push(o); }
      });
      paint(areas, T.cls, "k");
      sync(S.groups, []);
      sync(S.areas, areas);
      sync(S.outlines, outlines);
      fit(T);
      updateParts(T);
      S.done = token;
    }).catch(function (err) { S.done = token; failed(T.load.join(", "), err); });
  }

  // ------------------------------------------------------------------ set-up and parts
  // A map pane (created once) above the areas; zIndex as Leaflet's panes (overlay 400).
  function pane(name, zIndex, interactive) {
    var p = S.map.getPane(name) || S.map.createPane(name);
    p.style.zIndex = zIndex;
    if (!interactive) { p.style.pointerEvents = "none"; }
    return p;
  }

  function setup(map) {
    S.map = map;
    pane("frOutlines", 450, false);
    S.areas = L.layerGroup().addTo(map);
    S.groups = L.layerGroup().addTo(map);
    S.outlines = L.layerGroup().addTo(map);
    map.on("moveend", function () { detail(S.token); });
    parts.forEach(function (part) { if (part.setup) { part.setup(map, api); } });
  }

  function updateParts(T) {
    parts.forEach(function (part) {
      if (!part.update) { return; }
      try { part.update(T, api); } catch (err) {
        if (window.console) { console.error("firerisk: a map part failed", err); }
      }
    });
  }

  function extend(part) {
    parts.push(part);
    if (S.map && part.setup) { part.setup(S.map, api); }
    if (S.table && part.update) { part.update(S.table, api); }
  }

  function render(map, T) {
    if (!map || !T) { return; }
    if (!S.map) { setup(map); }
    S.table = T;
    var token = ++S.token;
    note(T.msg);
    if (T.mode === "overview") { renderOverview(T, token); } else { renderAreas(T, token); }
  }

  // Whether the last table has been drawn and no file is being fetched (tests wait for it).
  function idle() {
    return S.table !== null && S.done === S.token && S.inflight === 0 && !S.queued;
  }

  var api = {render: render, extend: extend, decode: decode, pane: pane, idle: idle,
             version: 2, state: S, files: files};
  window.FireRiskMap = api;
})();
