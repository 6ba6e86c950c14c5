package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {
    private static final ChatTemplate TEMPLATE = new ChatTemplate("<|{role}|>\n{content}\n");

    @Test
    void rendersEachMessageThenTheAssistantPrefix() {
        String prompt = TEMPLATE.render(List.of(
                new ChatTemplate.Message("system", "Be brief."),
                new ChatTemplate.Message("user", "Hi")));
        assertEquals("<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n", prompt);
    }

    @Test
    void generationPromptStopsBeforeContentEvenWhenRoleComesAfterIt() {
        ChatTemplate t = new ChatTemplate("[{content}]({role});");
        // The assistant prefix is everything before {content}: here just "[".
        assertEquals("[a](user);[", t.render(List.of(new ChatTemplate.Message("user", "a"))));
    }

    @Test
    void placeholdersInsideContentAreNotExpanded() {
        String prompt = TEMPLATE.render(List.of(new ChatTemplate.Message("user", "say {role} and {content}")));
        assertEquals("<|user|>\nsay {role} and {content}\n<|assistant|>\n", prompt);
    }

    @Test
    void roleMayAppearTwice() {
        ChatTemplate t = new ChatTemplate("<{role}>{content}</{role}>");
        assertEquals("<user>x</user><assistant>", t.render(List.of(new ChatTemplate.Message("user", "x"))));
    }

    @Test
    void emptyConversationIsJustTheAssistantPrefix() {
        assertEquals("<|assistant|>\n", TEMPLATE.render(List.of()));
    }

    @Test
    void templateWithoutContentIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ChatTemplate("<|{role}|>"));
        assertEquals("chatTemplate must contain {content}", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate(null));
    }

    @Test
    void messageNeedsRoleAndContent() {
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Message("", "x"));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Message("user", null));
    }
}
