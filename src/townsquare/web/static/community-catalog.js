// The property's catalog form: the store, item and link lists show only the chosen provider's
// group (a progressive enhancement: without it every group shows, and the server refuses a
// choice of another provider's).
(function () {
  "use strict";
  function follow(provider) {
    document.querySelectorAll("select[data-by-provider]").forEach(function (select) {
      select.querySelectorAll("optgroup").forEach(function (group) {
        var mine = group.dataset.provider === provider.value;
        group.hidden = !mine;
        group.disabled = !mine;
      });
      var chosen = select.options[select.selectedIndex];
      if (chosen && chosen.parentElement.disabled) {
        var first = select.id === "service-link" ? null :
          select.querySelector("optgroup:not([disabled]) option");
        select.value = first ? first.value : "";
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var provider = document.getElementById("service-provider");
    if (!provider) return;
    provider.addEventListener("change", function () { follow(provider); });
    follow(provider);
  });
})();
