/* Maps of Praktik: every <div class="map" data-markers='[...]' data-tiles="URL" data-attribution="...">
   becomes a Leaflet map with one marker per entry ({lat, lon, label}).  Without a tile server the
   markers still show on a plain background, and the list beside the map carries the same content. */
(function () {
  "use strict";
  function init(element) {
    var markers;
    try {
      markers = JSON.parse(element.getAttribute("data-markers") || "[]");
    } catch (error) {
      return;
    }
    if (typeof L === "undefined") {
      return;
    }
    var map = L.map(element, { scrollWheelZoom: false, keyboard: true });
    var tiles = element.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 18, attribution: element.getAttribute("data-attribution") || "" }).addTo(map);
    } else {
      element.classList.add("map-without-tiles");
    }
    var points = [];
    markers.forEach(function (entry) {
      if (typeof entry.lat !== "number" || typeof entry.lon !== "number") {
        return;
      }
      var marker = L.marker([entry.lat, entry.lon], { title: entry.label || "", alt: entry.label || "" }).addTo(map);
      if (entry.label) {
        var popup = document.createElement("span");
        popup.textContent = entry.label;
        marker.bindPopup(popup);
      }
      points.push([entry.lat, entry.lon]);
    });
    if (points.length === 1) {
      map.setView(points[0], 14);
    } else if (points.length > 1) {
      map.fitBounds(points, { padding: [24, 24], maxZoom: 15 });
    } else {
      map.setView([57.7089, 11.9746], 10);
    }
    element.setAttribute("data-ready", String(points.length));
  }
  function start() {
    L.Icon.Default.imagePath = (document.querySelector('script[src*="leaflet.js"]') || {}).src
      ? document.querySelector('script[src*="leaflet.js"]').src.replace(/leaflet\.js.*$/, "images/")
      : "";
    Array.prototype.forEach.call(document.querySelectorAll(".map[data-markers]"), init);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
