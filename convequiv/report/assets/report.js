// convequiv report: inlined into compatibility.html. The page is complete without it; it adds the
// environment filter (matrix columns and plan-route rows) and hiding rows where everything agrees.
(function () {
  var controls = document.getElementById('controls');
  if (!controls) return;
  controls.hidden = false;
  var filter = document.getElementById('env-filter'), quiet = document.getElementById('hide-quiet');
  function matches(text, words) {
    text = text.toLowerCase();
    return words.every(function (w) { return text.indexOf(w) >= 0; });
  }
  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean), hidden = {};
    document.querySelectorAll('th[data-env]').forEach(function (th) {
      hidden[th.getAttribute('data-col')] = !matches(th.getAttribute('data-env'), words);
    });
    document.querySelectorAll('table.matrix [data-col]').forEach(function (el) {
      el.hidden = !!hidden[el.getAttribute('data-col')];
    });
    document.querySelectorAll('table.routes tr[data-env]').forEach(function (tr) {
      tr.hidden = !matches(tr.getAttribute('data-env'), words);
    });
    document.body.classList.toggle('quiet-hidden', quiet.checked);
  }
  filter.addEventListener('input', apply);
  quiet.addEventListener('change', apply);
})();
