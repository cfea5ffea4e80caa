"use client";
// The forms of the storefront. Each runs a server action and shows its answer next to the field
// it concerns (or above the button), announced to screen readers; nothing fails silently.
import { useActionState, useId } from "react";

import { addToCart, changeQuantity, checkout, signIn, signUp, type FormState } from "@/app/actions";


function Field(props: {
  name: string;
  label: string;
  state: FormState;
  type?: string;
  autoComplete?: string;
  required?: boolean;
  defaultValue?: string;
  inputMode?: "numeric" | "text";
}) {
  const invalid = props.state.field === props.name;
  // Unique on the page: a cart shows one quantity field per line.
  const id = `field-${props.name}-${useId().replace(/:/g, "")}`;
  return (
    <p className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        autoComplete={props.autoComplete}
        required={props.required}
        defaultValue={props.state.values?.[props.name] ?? props.defaultValue}
        inputMode={props.inputMode}
        aria-invalid={invalid || undefined}
        aria-describedby={invalid ? `${id}-error` : undefined}
      />
      {invalid && (
        <span id={`${id}-error`} className="field-error" role="alert">
          {props.state.error}
        </span>
      )}
    </p>
  );
}

function FormError({ state }: { state: FormState }) {
  if (!state.error || state.field) return null;
  return (
    <p className="error" role="alert">
      {state.error}
    </p>
  );
}

export function SignInForm({ next }: { next: string }) {
  const [state, action, pending] = useActionState(signIn, {});
  return (
    <form action={action} className="stacked">
      <input type="hidden" name="next" value={next} />
      <Field name="email" label="Email" type="email" autoComplete="email" required state={state} />
      <Field name="password" label="Password" type="password" autoComplete="current-password" required state={state} />
      <FormError state={state} />
      <button type="submit" disabled={pending}>
        Sign in
      </button>
    </form>
  );
}

export function SignUpForm({ next }: { next: string }) {
  const [state, action, pending] = useActionState(signUp, {});
  return (
    <form action={action} className="stacked">
      <input type="hidden" name="next" value={next} />
      <Field name="name" label="Name" autoComplete="name" state={state} />
      <Field name="email" label="Email" type="email" autoComplete="email" required state={state} />
      <Field name="password" label="Password (at least 8 characters)" type="password" autoComplete="new-password" required state={state} />
      <FormError state={state} />
      <button type="submit" disabled={pending}>
        Create account
      </button>
    </form>
  );
}

export function AddToCartForm({ productId }: { productId: string }) {
  const [state, action, pending] = useActionState(addToCart, {});
  return (
    <form action={action} className="inline">
      <input type="hidden" name="product_id" value={productId} />
      <Field name="quantity" label="Quantity" type="number" inputMode="numeric" defaultValue="1" state={state} />
      <FormError state={state} />
      <button type="submit" disabled={pending}>
        Add to cart
      </button>
    </form>
  );
}

export function QuantityForm({ productId, quantity, title }: { productId: string; quantity: number; title: string }) {
  const [state, action, pending] = useActionState(changeQuantity, {});
  return (
    <form action={action} className="inline" aria-label={`Quantity of ${title}`}>
      <input type="hidden" name="product_id" value={productId} />
      <Field name="quantity" label="Quantity" type="number" inputMode="numeric" defaultValue={String(quantity)} state={state} />
      <button type="submit" disabled={pending}>
        Update
      </button>
    </form>
  );
}

/** `countries`: the codes the command API accepts (read from its document on the server). */
export function CheckoutForm({ countries }: { countries: string[] }) {
  const [state, action, pending] = useActionState(checkout, {});
  return (
    <form action={action} className="stacked">
      <fieldset>
        <legend>Shipping address</legend>
        <Field name="name" label="Name" autoComplete="name" required state={state} />
        <Field name="line1" label="Street and number" autoComplete="address-line1" required state={state} />
        <Field name="line2" label="More (optional)" autoComplete="address-line2" state={state} />
        <Field name="postal_code" label="Postal code" autoComplete="postal-code" required state={state} />
        <Field name="city" label="City" autoComplete="address-level2" required state={state} />
        <p className="field">
          <label htmlFor="field-country">Country</label>
          <select id="field-country" name="country" autoComplete="country" defaultValue={state.values?.country ?? "DE"}>
            {countries.map((code) => (
              <option key={code} value={code}>
                {code}
              </option>
            ))}
          </select>
        </p>
      </fieldset>
      <fieldset>
        <legend>Payment (test cards)</legend>
        <p className="field">
          <label htmlFor="payment_token">Card</label>
          <select id="payment_token" name="payment_token" defaultValue={state.values?.payment_token ?? "tok_ok"}>
            <option value="tok_ok">tok_ok (approved)</option>
            <option value="tok_decline">tok_decline (declined)</option>
          </select>
        </p>
      </fieldset>
      <FormError state={state} />
      <button type="submit" disabled={pending}>
        Place order
      </button>
    </form>
  );
}
