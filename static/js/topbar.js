/* The top bar's two menus (templates/base.html): the phone's Menu button, which shows the main
   navigation as a list, and the business switcher (a <details>, which opens without this script).
   Here: one open at a time, closed by a click elsewhere or Escape (focus goes back to its button). */
(function () {
  "use strict";

  function navToggle() { return document.querySelector("[data-nav-toggle]"); }

  function setNav(open) {
    var toggle = navToggle();
    if (!toggle) { return; }
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    if (nav) { nav.classList.toggle("is-open", open); }
  }

  function closeSwitchers(except) {
    var open = document.querySelectorAll("details[data-topbar-menu][open]");
    for (var i = 0; i < open.length; i++) {
      if (open[i] !== except) { open[i].removeAttribute("open"); }
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) { return; }
    if (target.closest("[data-nav-toggle]")) {
      closeSwitchers(null);
      setNav(navToggle().getAttribute("aria-expanded") !== "true");
      return;
    }
    if (!target.closest("#main-nav")) { setNav(false); }
    if (!target.closest("details[data-topbar-menu]")) { closeSwitchers(null); }
  });

  // Opening the switcher closes the nav menu (and any other switcher).
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.matches && details.matches("details[data-topbar-menu]") && details.open) {
      closeSwitchers(details);
      setNav(false);
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var toggle = navToggle();
    if (toggle && toggle.getAttribute("aria-expanded") === "true") {
      setNav(false);
      toggle.focus();
      return;
    }
    var open = document.querySelector("details[data-topbar-menu][open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
  });
})();
