import type { Metadata } from "next";
import Link from "next/link";

import { SignInForm } from "@/components/forms";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const next = (await searchParams).next ?? "/";
  return (
    <>
      <h1>Sign in</h1>
      <SignInForm next={next} />
      <p>
        New here? <Link href={`/signup?next=${encodeURIComponent(next)}`}>Create an account</Link>
      </p>
    </>
  );
}
