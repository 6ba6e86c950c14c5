package dev.switchback.server.http;

import java.util.List;

/**
 * A model's chat template: one string rendered per message with {@code {role}} and {@code {content}} replaced,
 * the renders concatenated, then the template for role {@code assistant} up to (not including) {@code {content}}
 * appended so that the model continues as the assistant.
 *
 * <p>Example: {@code "<|{role}|>\n{content}\n"} renders [user: "Hi"] as {@code "<|user|>\nHi\n<|assistant|>\n"}.
 */
public final class ChatTemplate {
    private static final String ROLE = "{role}";
    private static final String CONTENT = "{content}";
    private static final String GENERATION_ROLE = "assistant";

    private final String template;
    private final String generationPrompt;

    /** @throws IllegalArgumentException when the template has no {@code {content}} placeholder */
    public ChatTemplate(String template) {
        if (template == null || !template.contains(CONTENT)) {
            throw new IllegalArgumentException("chatTemplate must contain " + CONTENT);
        }
        this.template = template;
        this.generationPrompt = render(template.substring(0, template.indexOf(CONTENT)), GENERATION_ROLE, "");
    }

    /** One message of a conversation. */
    public record Message(String role, String content) {
        public Message {
            if (role == null || role.isEmpty()) {
                throw new IllegalArgumentException("role is required");
            }
            if (content == null) {
                throw new IllegalArgumentException("content is required");
            }
        }
    }

    /** The prompt for the conversation, ending where the assistant's reply begins. */
    public String render(List<Message> messages) {
        StringBuilder out = new StringBuilder();
        for (Message m : messages) {
            out.append(render(template, m.role(), m.content()));
        }
        return out.append(generationPrompt).toString();
    }

    public String template() {
        return template;
    }

    // One left-to-right pass, so a placeholder written inside a message's content is left as the user wrote it.
    private static String render(String template, String role, String content) {
        StringBuilder out = new StringBuilder(template.length() + content.length());
        int i = 0;
        while (i < template.length()) {
            if (template.startsWith(ROLE, i)) {
                out.append(role);
                i += ROLE.length();
            } else if (template.startsWith(CONTENT, i)) {
                out.append(content);
                i += CONTENT.length();
            } else {
                out.append(template.charAt(i++));
            }
        }
        return out.toString();
    }
}
