-- The name an account signed up with (optional): how the storefront greets its holder.
ALTER TABLE auth.users ADD COLUMN name text;
