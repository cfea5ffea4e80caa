// The storefront's service worker: the shell (icons, scripts, styles) and the last catalog page
// stay available offline. Pages are fetched from the network first (prices and stock change);
// when it fails, the copy kept of the last one is shown. Pages of a signed-in visitor's cart,
// orders or checkout are never kept.
const VERSION = "commerce-v1";
const SHELL = ["/", "/manifest.webmanifest", "/icons/icon-192.png", "/icons/icon-512.png"];
const KEPT_PAGES = /^\/(\?.*)?$|^\/products\//;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== VERSION).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request)
        .then((response) => {
          const path = url.pathname + url.search;
          if (response.ok && KEPT_PAGES.test(path)) {
            const copy = response.clone();
            caches.open(VERSION).then((cache) => {
              cache.put(request, copy.clone());
              // The last catalog page also stands in for the catalog itself.
              if (url.pathname === "/") cache.put("/", copy);
            });
          }
          return response;
        })
        .catch(async () => (await caches.match(request)) ?? (await caches.match("/")) ?? Response.error()),
    );
    return;
  }
  if (url.pathname.startsWith("/_next/static/") || url.pathname.startsWith("/icons/")) {
    // Immutable assets: from the cache, kept on first use.
    event.respondWith(
      caches.match(request).then(
        (cached) =>
          cached ??
          fetch(request).then((response) => {
            if (response.ok) {
              const copy = response.clone();
              caches.open(VERSION).then((cache) => cache.put(request, copy));
            }
            return response;
          }),
      ),
    );
  }
});
