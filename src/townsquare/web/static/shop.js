// The resident's ordering pages: each part works without this file (plain forms and links);
// it adds the phone's location to the address form and live updates to an order's page.
(function () {
  "use strict";

  // Address book: fill latitude and longitude from the phone's location, on request.
  function setUpLocation() {
    var button = document.getElementById("use-location");
    if (!button || !navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (where) {
        document.getElementById("address-lat").value = where.coords.latitude.toFixed(6);
        document.getElementById("address-lng").value = where.coords.longitude.toFixed(6);
        var place = document.getElementById("address-place");
        if (place) place.value = "";
      }, function () {
        var problem = document.getElementById("location-problem");
        if (problem) problem.hidden = false;
      }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
    });
  }

  // An order's page: the server sends an event when the order changes (SSE); the page then
  // fetches itself and swaps the live part, so the status, timeline and actions stay current
  // without a reload. EventSource reconnects by itself after a dropped connection.
  function setUpLive() {
    var live = document.querySelector("[data-order-stream]");
    if (!live || !window.EventSource) return;
    var source = new EventSource(live.getAttribute("data-order-stream"));
    var busy = false;
    function refresh() {
      if (busy) return;
      busy = true;
      fetch(window.location.pathname + "?part=live", { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var box = document.getElementById("order-live");
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("order-live");
          if (box && fresh) box.replaceWith(fresh);
        })
        .finally(function () { busy = false; });
    }
    source.addEventListener("order", function (event) {
      var box = document.getElementById("order-live");
      var seen = box ? box.getAttribute("data-version") : "";
      if (event.data !== seen) refresh();
    });
    source.addEventListener("end", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpLocation();
    setUpLive();
  });
})();

// A refused cart change (409, 422) carries the page with its message: show it like a success.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if (status >= 400 && status < 500 && event.detail.xhr.responseText) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
