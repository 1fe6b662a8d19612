export const metadata = { title: "Tollgate Auth.js example" };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", maxWidth: "40rem", margin: "2rem auto" }}>{children}</body>
    </html>
  );
}
