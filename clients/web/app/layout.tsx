import type { Metadata, Viewport } from "next";
import Link from "next/link";

import { signOut } from "@/app/actions";
import { ServiceWorker } from "@/components/service-worker";
import { claims, sessionToken } from "@/lib/api";

import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Commerce", template: "%s · Commerce" },
  description: "A multi-vendor marketplace",
  icons: { icon: "/icons/icon.svg", apple: "/icons/icon-192.png" },
  appleWebApp: { capable: true, title: "Commerce" },
};

export const viewport: Viewport = {
  width: "device-width",
  initialScale: 1,
  themeColor: "#1f4f8b",
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const token = await sessionToken();
  const role = token ? claims(token).role : undefined;
  return (
    <html lang="en">
      <body>
        <header className="site">
          <Link href="/" className="brand">
            Commerce
          </Link>
          <nav aria-label="Main">
            <Link href="/">Catalog</Link>
            {token ? (
              <>
                <Link href="/cart">Cart</Link>
                <Link href="/orders">Orders</Link>
                {role === "vendor" && <Link href="/vendor">Your shop</Link>}
                <form action={signOut}>
                  <button type="submit" className="link" aria-label={`Sign out (${role ?? "signed in"})`}>
                    Sign out
                  </button>
                </form>
              </>
            ) : (
              <Link href="/signin">Sign in</Link>
            )}
          </nav>
        </header>
        <main>{children}</main>
        <ServiceWorker />
      </body>
    </html>
  );
}
