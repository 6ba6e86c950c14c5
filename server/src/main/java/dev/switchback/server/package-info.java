/** Placeholder until this module's issue lands; see DESIGN.md for what it will own. */
package dev.switchback.server;
