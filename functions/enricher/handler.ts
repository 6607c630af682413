// Placeholder so the stack can reference the entry point while the enricher is being written; replaced in this branch's work.
export const handler = async (): Promise<never> => {
  throw new Error("the enricher handler is not built yet");
};
