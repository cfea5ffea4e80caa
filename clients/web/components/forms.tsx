"use client";
// The forms of the storefront. Each runs a server action and shows its answer next to the field
// it concerns (or above the button), announced to screen readers; nothing fails silently.
import { useActionState, useId } from "react";

import {
  addToCart,
  changePrice,
  changeQuantity,
  checkout,
  createProduct,
  receiveStock,
  setPublished,
  ship,
  signIn,
  signUp,
  type FormState,
} from "@/app/actions";


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

// ---- A vendor's shop ----

function Currency({ currencies, value }: { currencies: string[]; value?: string }) {
  const id = `field-currency-${useId().replace(/:/g, "")}`;
  return (
    <p className="field">
      <label htmlFor={id}>Currency</label>
      <select id={id} name="currency" defaultValue={value ?? "EUR"}>
        {currencies.map((code) => (
          <option key={code} value={code}>
            {code}
          </option>
        ))}
      </select>
    </p>
  );
}

export function NewProductForm({ currencies }: { currencies: string[] }) {
  const [state, action, pending] = useActionState(createProduct, {});
  return (
    <form action={action} className="stacked">
      <Field name="title" label="Title" required state={state} />
      <Field name="sku" label="SKU" required state={state} />
      <Field name="category" label="Category (e.g. kitchen)" required state={state} />
      <Field name="description" label="Description" state={state} />
      <Field name="price" label="Price (e.g. 19.99)" inputMode="text" required state={state} />
      <Currency currencies={currencies} value={state.values?.currency} />
      <FormError state={state} />
      <button type="submit" disabled={pending}>
        Create product
      </button>
    </form>
  );
}

export function PriceForm(props: { productId: string; price: string; currency: string; currencies: string[] }) {
  const [state, action, pending] = useActionState(changePrice, {});
  return (
    <form action={action} className="inline" aria-label="Price">
      <input type="hidden" name="product_id" value={props.productId} />
      <Field name="price" label="Price" defaultValue={props.price} state={state} />
      <Currency currencies={props.currencies} value={props.currency} />
      <button type="submit" disabled={pending}>
        Change price
      </button>
    </form>
  );
}

export function PublishForm({ productId, published }: { productId: string; published: boolean }) {
  const [state, action, pending] = useActionState(setPublished, {});
  return (
    <form action={action} className="inline">
      <input type="hidden" name="product_id" value={productId} />
      <input type="hidden" name="publish" value={String(!published)} />
      <FormError state={state} />
      <button type="submit" disabled={pending}>
        {published ? "Unpublish" : "Publish"}
      </button>
    </form>
  );
}

export function StockForm({ productId }: { productId: string }) {
  const [state, action, pending] = useActionState(receiveStock, {});
  return (
    <form action={action} className="inline" aria-label="Receive stock">
      <input type="hidden" name="product_id" value={productId} />
      <Field name="quantity" label="Units received" type="number" inputMode="numeric" required state={state} />
      <button type="submit" disabled={pending}>
        Receive stock
      </button>
    </form>
  );
}

export function ShipForm({ orderId }: { orderId: string }) {
  const [state, action, pending] = useActionState(ship, {});
  return (
    <form action={action} className="inline" aria-label={`Ship order ${orderId}`}>
      <input type="hidden" name="order_id" value={orderId} />
      <Field name="tracking" label="Tracking number" required state={state} />
      <button type="submit" disabled={pending}>
        Ship
      </button>
    </form>
  );
}
