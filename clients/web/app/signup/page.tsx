import type { Metadata } from "next";
import Link from "next/link";

import { SignUpForm } from "@/components/forms";

export const metadata: Metadata = { title: "Create an account" };

export default async function SignUpPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const next = (await searchParams).next ?? "/";
  return (
    <>
      <h1>Create an account</h1>
      <SignUpForm next={next} />
      <p>
        Have one? <Link href={`/signin?next=${encodeURIComponent(next)}`}>Sign in</Link>
      </p>
    </>
  );
}
