/**
 * The shape of a router's messages, as the generated `*Protocol` interfaces spell it, and
 * the types the client derives from it.
 *
 * @module
 */
export {};
