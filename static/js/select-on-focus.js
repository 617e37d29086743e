"use strict";
/* Selects the whole value of a [data-select-on-focus] field when it gets focus (a secret shown
   once, to copy). An external script: the Content-Security-Policy allows no inline handlers. */
document.addEventListener("focusin", function (event) {
  var target = event.target;
  if (target instanceof HTMLInputElement && target.hasAttribute("data-select-on-focus")) target.select();
});
