// A hand-written FP4 E2M1 decoder (no subnormal tricks beyond the format): code -> value * 2^-1 as a
// signed 5-bit integer; E2M1 has no NaN, so invalid is always 0. Written directly in Verilog.
module user_e2m1_decoder (
    input  wire [3:0] code,
    output reg  signed [4:0] value,
    output wire       invalid
);
    reg [3:0] mag;   // |value| * 2: 0, 1, 2, 3, 4, 6, 8, 12
    always @(*) begin
        case (code[2:0])
            3'd0: mag = 4'd0;  3'd1: mag = 4'd1;  3'd2: mag = 4'd2;  3'd3: mag = 4'd3;
            3'd4: mag = 4'd4;  3'd5: mag = 4'd6;  3'd6: mag = 4'd8;  default: mag = 4'd12;
        endcase
        value = code[3] ? -$signed({1'b0, mag}) : $signed({1'b0, mag});
    end
    assign invalid = 1'b0;
endmodule
