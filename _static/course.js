// Inline math wider than the text column (MathJax 3 cannot break a line inside a formula) gets the
// class course-wide-math: course.css then lets it scroll inside itself instead of being cut off.
(function () {
  function mark() {
    document.querySelectorAll(".bd-article mjx-container:not([display='true'])").forEach(function (m) {
      m.classList.remove("course-wide-math");
      var block = m.parentElement;
      while (block && getComputedStyle(block).display.indexOf("inline") === 0) block = block.parentElement;
      if (block && m.getBoundingClientRect().width > block.clientWidth) m.classList.add("course-wide-math");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var startup = window.MathJax && window.MathJax.startup;
    if (!startup || !startup.promise) return;
    startup.promise.then(mark);
    var timer;
    window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(mark, 200); });
  });
})();
