"use client";
// An order's status as it changes, without reloading: the page's server-rendered status, then
// each change the read API streams (Server-Sent Events, through this site's own route, which
// attaches the bearer token on the server).
import { useEffect, useState } from "react";

const REASONS: Record<string, string> = {
  out_of_stock: "a product was out of stock",
  payment_declined: "the card was declined",
  payment_timeout: "the payment provider did not answer in time",
  customer_request: "you cancelled it",
  admin: "an administrator cancelled it",
};

export function OrderStatus(props: { orderId: string; status: string; cancelReason?: string | null }) {
  const [status, setStatus] = useState(props.status);
  const [reason, setReason] = useState(props.cancelReason ?? null);
  useEffect(() => {
    if (props.status === "shipped" || props.status === "cancelled") return;
    const events = new EventSource(`/orders/${props.orderId}/events`);
    events.addEventListener("status", (event) => {
      const change = JSON.parse((event as MessageEvent).data) as { status: string; cancel_reason?: string | null };
      setStatus(change.status);
      if (change.cancel_reason) setReason(change.cancel_reason);
      if (change.status === "shipped" || change.status === "cancelled") events.close();
    });
    return () => events.close();
  }, [props.orderId, props.status]);
  return (
    <div aria-live="polite">
      <p>
        Status: <strong data-testid="order-status">{status.replaceAll("_", " ")}</strong>
      </p>
      {status === "cancelled" && reason && (
        <p className="error" data-testid="cancel-reason">
          Cancelled: {REASONS[reason] ?? reason}.
        </p>
      )}
    </div>
  );
}
