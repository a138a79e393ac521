import type { Config } from 'tailwindcss';

/** Shared Tailwind preset: the theme every app in the repo uses. Apps add their own content globs. */
const preset: Omit<Config, 'content'> = {
  theme: {
    extend: {
      colors: {
        brand: {
          50: '#eef4ff',
          100: '#d9e6ff',
          500: '#3b6cf6',
          600: '#2a55db',
          700: '#2244b0',
          900: '#172a66',
        },
      },
      fontFamily: {
        sans: ['ui-sans-serif', 'system-ui', '-apple-system', 'Segoe UI', 'Roboto', 'sans-serif'],
        mono: ['ui-monospace', 'SFMono-Regular', 'Menlo', 'monospace'],
      },
    },
  },
};

export default preset;
