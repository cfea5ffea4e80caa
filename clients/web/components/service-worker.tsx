"use client";
// Registers the service worker that keeps the shell and the last catalog page for offline use.
import { useEffect } from "react";

export function ServiceWorker() {
  useEffect(() => {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js").catch((error) => {
        console.warn("the service worker did not register", error);
      });
    }
  }, []);
  return null;
}
