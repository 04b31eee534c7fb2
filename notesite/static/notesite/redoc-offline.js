// ReDoc's bundle shows its maker's logo from a CDN (https://cdn.redoc.ly/),
// which the site's content security policy blocks: every asset of these docs
// is served by this site. Give ReDoc an empty picture instead, so the page
// asks no other site for anything and the browser reports no violation.
(function () {
  var empty = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E";
  function local(value) {
    return String(value).indexOf("https://cdn.redoc.ly/") === 0 ? empty : value;
  }
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    return setAttribute.call(this, name, name === "src" ? local(value) : value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) {
      src.set.call(this, local(value));
    },
  });
})();
