import type { Metadata, Viewport } from "next";
import Link from "next/link";

import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Commerce", template: "%s · Commerce" },
  description: "A multi-vendor marketplace",
};

export const viewport: Viewport = {
  width: "device-width",
  initialScale: 1,
  themeColor: "#1f4f8b",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="site">
          <Link href="/" className="brand">
            Commerce
          </Link>
          <nav aria-label="Main">
            <Link href="/">Catalog</Link>
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
