{
	"patcher" : {
		"fileversion" : 1,
		"appversion" : {
			"major" : 8,
			"minor" : 5,
			"revision" : 5,
			"architecture" : "x64",
			"modernui" : 1
		},
		"classnamespace" : "box",
		"rect" : [ 100.0, 100.0, 900.0, 700.0 ],
		"openrect" : [ 0.0, 0.0, 0.0, 169.0 ],
		"bglocked" : 0,
		"openinpresentation" : 1,
		"default_fontsize" : 10.0,
		"default_fontface" : 0,
		"default_fontname" : "Arial Bold",
		"gridonopen" : 1,
		"gridsize" : [ 8.0, 8.0 ],
		"gridsnaponopen" : 1,
		"objectsnaponopen" : 1,
		"statusbarvisible" : 2,
		"toolbarvisible" : 1,
		"description" : "latentbridge: co-create with music VAEs; talks to python -m bridge over OSC",
		"digest" : "Capture clips, generate, interpolate and stream bars from a latentbridge bridge",
		"tags" : "latentbridge musicvae osc",
		"devicewidth" : 432.0,
		"boxes" : [
			{
				"box" : {
					"id" : "obj-thisdevice",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 20.0, 20.0, 85.0, 22.0 ],
					"outlettype" : [ "bang", "int", "int" ],
					"text" : "live.thisdevice"
				}
			},
			{
				"box" : {
					"id" : "obj-udpreceive",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 130.0, 20.0, 100.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "udpreceive 9001"
				}
			},
			{
				"box" : {
					"id" : "obj-js",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 20.0, 300.0, 190.0, 22.0 ],
					"outlettype" : [ "", "", "" ],
					"text" : "js latentbridge.js",
					"saved_object_attributes" : {
						"filename" : "latentbridge.js",
						"parameter_enable" : 0
					}
				}
			},
			{
				"box" : {
					"id" : "obj-udpsend",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 360.0, 140.0, 22.0 ],
					"text" : "udpsend 127.0.0.1 9000"
				}
			},
			{
				"box" : {
					"id" : "obj-midiin",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 620.0, 20.0, 45.0, 22.0 ],
					"outlettype" : [ "int" ],
					"text" : "midiin"
				}
			},
			{
				"box" : {
					"id" : "obj-midiout",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 620.0, 560.0, 55.0, 22.0 ],
					"text" : "midiout"
				}
			},
			{
				"box" : {
					"id" : "obj-routeplay",
					"maxclass" : "newobj",
					"numinlets" : 3,
					"numoutlets" : 3,
					"patching_rect" : [ 230.0, 360.0, 100.0, 22.0 ],
					"outlettype" : [ "", "", "" ],
					"text" : "route note clear"
				}
			},
			{
				"box" : {
					"id" : "obj-pipe",
					"maxclass" : "newobj",
					"numinlets" : 4,
					"numoutlets" : 3,
					"patching_rect" : [ 230.0, 400.0, 90.0, 22.0 ],
					"outlettype" : [ "", "", "" ],
					"text" : "pipe 0 0 0 0"
				}
			},
			{
				"box" : {
					"id" : "obj-clearbang",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 340.0, 400.0, 40.0, 22.0 ],
					"outlettype" : [ "bang", "bang" ],
					"text" : "t b b"
				}
			},
			{
				"box" : {
					"id" : "obj-clearmsg",
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 340.0, 440.0, 40.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "clear"
				}
			},
			{
				"box" : {
					"id" : "obj-stopmsg",
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 390.0, 440.0, 40.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "stop"
				}
			},
			{
				"box" : {
					"id" : "obj-makenote",
					"maxclass" : "newobj",
					"numinlets" : 3,
					"numoutlets" : 2,
					"patching_rect" : [ 230.0, 480.0, 105.0, 22.0 ],
					"outlettype" : [ "float", "float" ],
					"text" : "makenote 100 250"
				}
			},
			{
				"box" : {
					"id" : "obj-pack",
					"maxclass" : "newobj",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 230.0, 520.0, 55.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "pack 0 0"
				}
			},
			{
				"box" : {
					"id" : "obj-midiformat",
					"maxclass" : "newobj",
					"numinlets" : 7,
					"numoutlets" : 2,
					"patching_rect" : [ 230.0, 560.0, 90.0, 22.0 ],
					"outlettype" : [ "int", "" ],
					"text" : "midiformat"
				}
			},
			{
				"box" : {
					"id" : "obj-routeui",
					"maxclass" : "newobj",
					"numinlets" : 5,
					"numoutlets" : 5,
					"patching_rect" : [ 420.0, 360.0, 220.0, 22.0 ],
					"outlettype" : [ "", "", "", "", "" ],
					"text" : "route status connected models model"
				}
			},
			{
				"box" : {
					"id" : "obj-setstatus",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 420.0, 400.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-setled",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 500.0, 400.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-setmodels",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 580.0, 400.0, 150.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend _parameter_range"
				}
			},
			{
				"box" : {
					"id" : "obj-setmodel",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 740.0, 400.0, 75.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend set"
				}
			},
			{
				"box" : {
					"id" : "obj-status",
					"maxclass" : "message",
					"numinlets" : 2,
					"numoutlets" : 1,
					"patching_rect" : [ 420.0, 440.0, 300.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "press Connect (bridge: python -m bridge)",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 4.0, 336.0, 20.0 ],
					"hint" : "What the device and the bridge are doing; errors show here.",
					"annotation" : "What the device and the bridge are doing; errors show here.",
					"ignoreclick" : 1
				}
			},
			{
				"box" : {
					"id" : "obj-led",
					"maxclass" : "led",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 500.0, 440.0, 20.0, 20.0 ],
					"outlettype" : [ "int" ],
					"presentation" : 1,
					"presentation_rect" : [ 344.0, 5.0, 18.0, 18.0 ],
					"ignoreclick" : 1,
					"hint" : "Lit while the bridge answers pings.",
					"annotation" : "Lit while the bridge answers pings."
				}
			},
			{
				"box" : {
					"id" : "obj-connect",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 20.0, 120.0, 60.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Connect",
					"presentation" : 1,
					"presentation_rect" : [ 366.0, 4.0, 62.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "connect",
					"hint" : "Say hello to the bridge on 127.0.0.1:9000 and fetch its models. If it does not answer within a second, start it with: python -m bridge",
					"annotation" : "Say hello to the bridge on 127.0.0.1:9000 and fetch its models. If it does not answer within a second, start it with: python -m bridge",
					"annotation_name" : "Connect",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Connect",
							"parameter_shortname" : "Connect",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ]
						}
					},
					"mode" : 0,
					"texton" : "Connect"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_connect",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 20.0, 180.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend connect"
				}
			},
			{
				"box" : {
					"id" : "obj-model",
					"maxclass" : "live.menu",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 90.0, 120.0, 100.0, 15.0 ],
					"outlettype" : [ "", "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 30.0, 150.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "model",
					"hint" : "The model bundle the bridge loads (the list comes from the bridge).",
					"annotation" : "The model bundle the bridge loads (the list comes from the bridge).",
					"annotation_name" : "Model",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Model",
							"parameter_shortname" : "Model",
							"parameter_type" : 2,
							"parameter_mmax" : 0,
							"parameter_enum" : [ "(press Connect)" ]
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_model",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 90.0, 210.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend model"
				}
			},
			{
				"box" : {
					"id" : "obj-mode",
					"maxclass" : "live.tab",
					"numinlets" : 1,
					"numoutlets" : 3,
					"patching_rect" : [ 200.0, 120.0, 180.0, 20.0 ],
					"outlettype" : [ "", "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 160.0, 28.0, 200.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "mode",
					"hint" : "sample: new bars from the prior; interpolate: morph from slot A to slot B; vary: variations around slot A.",
					"annotation" : "sample: new bars from the prior; interpolate: morph from slot A to slot B; vary: variations around slot A.",
					"annotation_name" : "Mode",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Mode",
							"parameter_shortname" : "Mode",
							"parameter_type" : 2,
							"parameter_mmax" : 2,
							"parameter_enum" : [ "sample", "interpolate", "vary" ],
							"parameter_initial" : [ 0 ],
							"parameter_initial_enable" : 1
						}
					},
					"num_lines_patching" : 1,
					"num_lines_presentation" : 1
				}
			},
			{
				"box" : {
					"id" : "obj-pre_mode",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 200.0, 240.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend mode"
				}
			},
			{
				"box" : {
					"id" : "obj-capture_a",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 20.0, 160.0, 60.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Capture A",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 54.0, 62.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "capture_a",
					"hint" : "Send the selected MIDI clip (Session or Arrangement) to slot A.",
					"annotation" : "Send the selected MIDI clip (Session or Arrangement) to slot A.",
					"annotation_name" : "Capture A",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Capture A",
							"parameter_shortname" : "Capture A",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ]
						}
					},
					"mode" : 0,
					"texton" : "Capture A"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_capture_a",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 20.0, 270.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend capture_a"
				}
			},
			{
				"box" : {
					"id" : "obj-capture_b",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 90.0, 160.0, 60.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Capture B",
					"presentation" : 1,
					"presentation_rect" : [ 4.0, 78.0, 62.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "capture_b",
					"hint" : "Send the selected MIDI clip to slot B (the end point of interpolate).",
					"annotation" : "Send the selected MIDI clip to slot B (the end point of interpolate).",
					"annotation_name" : "Capture B",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Capture B",
							"parameter_shortname" : "Capture B",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ]
						}
					},
					"mode" : 0,
					"texton" : "Capture B"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_capture_b",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 90.0, 300.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend capture_b"
				}
			},
			{
				"box" : {
					"id" : "obj-position",
					"maxclass" : "live.dial",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 160.0, 160.0, 44.0, 48.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 72.0, 54.0, 44.0, 48.0 ],
					"parameter_enable" : 1,
					"varname" : "position",
					"hint" : "Interpolation position: 0 = slot A, 1 = slot B.",
					"annotation" : "Interpolation position: 0 = slot A, 1 = slot B.",
					"annotation_name" : "Position",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Position",
							"parameter_shortname" : "A>B",
							"parameter_type" : 0,
							"parameter_mmin" : 0.0,
							"parameter_mmax" : 1.0,
							"parameter_unitstyle" : 1,
							"parameter_initial" : [ 0.5 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_position",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 160.0, 330.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend position"
				}
			},
			{
				"box" : {
					"id" : "obj-temperature",
					"maxclass" : "live.dial",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 210.0, 160.0, 44.0, 48.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 120.0, 54.0, 44.0, 48.0 ],
					"parameter_enable" : 1,
					"varname" : "temperature",
					"hint" : "Sampling temperature: low = safe and repetitive, 1 = the model's own distribution, high = adventurous.",
					"annotation" : "Sampling temperature: low = safe and repetitive, 1 = the model's own distribution, high = adventurous.",
					"annotation_name" : "Temperature",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Temperature",
							"parameter_shortname" : "Temp",
							"parameter_type" : 0,
							"parameter_mmin" : 0.05,
							"parameter_mmax" : 2.0,
							"parameter_unitstyle" : 1,
							"parameter_initial" : [ 0.5 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_temperature",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 210.0, 360.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend temperature"
				}
			},
			{
				"box" : {
					"id" : "obj-amount",
					"maxclass" : "live.dial",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 260.0, 160.0, 44.0, 48.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 168.0, 54.0, 44.0, 48.0 ],
					"parameter_enable" : 1,
					"varname" : "amount",
					"hint" : "How far a variation strays from slot A (vary mode).",
					"annotation" : "How far a variation strays from slot A (vary mode).",
					"annotation_name" : "Amount",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Amount",
							"parameter_shortname" : "Amount",
							"parameter_type" : 0,
							"parameter_mmin" : 0.0,
							"parameter_mmax" : 1.0,
							"parameter_unitstyle" : 1,
							"parameter_initial" : [ 0.5 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_amount",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 260.0, 390.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend amount"
				}
			},
			{
				"box" : {
					"id" : "obj-bars",
					"maxclass" : "live.numbox",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 310.0, 160.0, 40.0, 15.0 ],
					"outlettype" : [ "", "float" ],
					"presentation" : 1,
					"presentation_rect" : [ 218.0, 58.0, 40.0, 15.0 ],
					"parameter_enable" : 1,
					"varname" : "bars",
					"hint" : "Bars per generated clip (1 up to the model's length).",
					"annotation" : "Bars per generated clip (1 up to the model's length).",
					"annotation_name" : "Bars",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Bars",
							"parameter_shortname" : "Bars",
							"parameter_type" : 1,
							"parameter_mmin" : 1,
							"parameter_mmax" : 16,
							"parameter_unitstyle" : 0,
							"parameter_initial" : [ 2 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_bars",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 310.0, 420.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend bars"
				}
			},
			{
				"box" : {
					"id" : "obj-stream",
					"maxclass" : "live.toggle",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 360.0, 160.0, 20.0, 20.0 ],
					"outlettype" : [ "" ],
					"presentation" : 1,
					"presentation_rect" : [ 262.0, 56.0, 18.0, 18.0 ],
					"parameter_enable" : 1,
					"varname" : "stream",
					"hint" : "Stream generated bars ahead of the playhead; they play on this track.",
					"annotation" : "Stream generated bars ahead of the playhead; they play on this track.",
					"annotation_name" : "Stream",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Stream",
							"parameter_shortname" : "Stream",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ],
							"parameter_initial" : [ 0 ],
							"parameter_initial_enable" : 1
						}
					}
				}
			},
			{
				"box" : {
					"id" : "obj-pre_stream",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 360.0, 450.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend stream"
				}
			},
			{
				"box" : {
					"id" : "obj-write",
					"maxclass" : "live.text",
					"numinlets" : 1,
					"numoutlets" : 2,
					"patching_rect" : [ 390.0, 160.0, 80.0, 20.0 ],
					"outlettype" : [ "", "" ],
					"text" : "Write clip",
					"presentation" : 1,
					"presentation_rect" : [ 284.0, 54.0, 76.0, 20.0 ],
					"parameter_enable" : 1,
					"varname" : "write_clip",
					"hint" : "Generate once with the current settings and write the result into the first empty clip slot of this track.",
					"annotation" : "Generate once with the current settings and write the result into the first empty clip slot of this track.",
					"annotation_name" : "Write Clip",
					"saved_attribute_attributes" : {
						"valueof" : {
							"parameter_longname" : "Write Clip",
							"parameter_shortname" : "Write",
							"parameter_type" : 2,
							"parameter_mmax" : 1,
							"parameter_enum" : [ "off", "on" ]
						}
					},
					"mode" : 0,
					"texton" : "Write clip"
				}
			},
			{
				"box" : {
					"id" : "obj-pre_write",
					"maxclass" : "newobj",
					"numinlets" : 1,
					"numoutlets" : 1,
					"patching_rect" : [ 390.0, 480.0, 120.0, 22.0 ],
					"outlettype" : [ "" ],
					"text" : "prepend write"
				}
			},
			{
				"box" : {
					"id" : "obj-label_stream",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 360.0, 185.0, 40.0, 18.0 ],
					"text" : "stream",
					"presentation" : 1,
					"presentation_rect" : [ 258.0, 76.0, 40.0, 18.0 ],
					"fontsize" : 9.0
				}
			},
			{
				"box" : {
					"id" : "obj-title",
					"maxclass" : "comment",
					"numinlets" : 1,
					"numoutlets" : 0,
					"patching_rect" : [ 20.0, 600.0, 120.0, 20.0 ],
					"text" : "latentbridge",
					"presentation" : 1,
					"presentation_rect" : [ 300.0, 80.0, 80.0, 18.0 ],
					"fontsize" : 9.0
				}
			}
		],
		"lines" : [
			{
				"patchline" : {
					"source" : [ "obj-thisdevice", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-udpreceive", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-js", 0 ],
					"destination" : [ "obj-udpsend", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-midiin", 0 ],
					"destination" : [ "obj-midiout", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-js", 1 ],
					"destination" : [ "obj-routeplay", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeplay", 0 ],
					"destination" : [ "obj-pipe", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeplay", 1 ],
					"destination" : [ "obj-clearbang", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-clearbang", 1 ],
					"destination" : [ "obj-clearmsg", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-clearbang", 0 ],
					"destination" : [ "obj-stopmsg", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-clearmsg", 0 ],
					"destination" : [ "obj-pipe", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-stopmsg", 0 ],
					"destination" : [ "obj-makenote", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pipe", 0 ],
					"destination" : [ "obj-makenote", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pipe", 1 ],
					"destination" : [ "obj-makenote", 1 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pipe", 2 ],
					"destination" : [ "obj-makenote", 2 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-makenote", 0 ],
					"destination" : [ "obj-pack", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-makenote", 1 ],
					"destination" : [ "obj-pack", 1 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pack", 0 ],
					"destination" : [ "obj-midiformat", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-midiformat", 0 ],
					"destination" : [ "obj-midiout", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-js", 2 ],
					"destination" : [ "obj-routeui", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 0 ],
					"destination" : [ "obj-setstatus", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 1 ],
					"destination" : [ "obj-setled", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 2 ],
					"destination" : [ "obj-setmodels", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-routeui", 3 ],
					"destination" : [ "obj-setmodel", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setmodels", 0 ],
					"destination" : [ "obj-model", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setmodel", 0 ],
					"destination" : [ "obj-model", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setstatus", 0 ],
					"destination" : [ "obj-status", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-setled", 0 ],
					"destination" : [ "obj-led", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-connect", 0 ],
					"destination" : [ "obj-pre_connect", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_connect", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-model", 0 ],
					"destination" : [ "obj-pre_model", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_model", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-mode", 0 ],
					"destination" : [ "obj-pre_mode", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_mode", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-capture_a", 0 ],
					"destination" : [ "obj-pre_capture_a", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_capture_a", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-capture_b", 0 ],
					"destination" : [ "obj-pre_capture_b", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_capture_b", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-position", 0 ],
					"destination" : [ "obj-pre_position", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_position", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-temperature", 0 ],
					"destination" : [ "obj-pre_temperature", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_temperature", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-amount", 0 ],
					"destination" : [ "obj-pre_amount", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_amount", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-bars", 0 ],
					"destination" : [ "obj-pre_bars", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_bars", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-stream", 0 ],
					"destination" : [ "obj-pre_stream", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_stream", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-write", 0 ],
					"destination" : [ "obj-pre_write", 0 ]
				}
			},
			{
				"patchline" : {
					"source" : [ "obj-pre_write", 0 ],
					"destination" : [ "obj-js", 0 ]
				}
			}
		],
		"parameters" : {
			"obj-connect" : [ "Connect", "Connect", 0 ],
			"obj-model" : [ "Model", "Model", 0 ],
			"obj-mode" : [ "Mode", "Mode", 0 ],
			"obj-capture_a" : [ "Capture A", "Capture A", 0 ],
			"obj-capture_b" : [ "Capture B", "Capture B", 0 ],
			"obj-position" : [ "Position", "A>B", 0 ],
			"obj-temperature" : [ "Temperature", "Temp", 0 ],
			"obj-amount" : [ "Amount", "Amount", 0 ],
			"obj-bars" : [ "Bars", "Bars", 0 ],
			"obj-stream" : [ "Stream", "Stream", 0 ],
			"obj-write" : [ "Write Clip", "Write", 0 ],
			"inherited_shortname" : 1
		},
		"dependency_cache" : [
			{
				"name" : "latentbridge.js",
				"bootpath" : ".",
				"patcherrelativepath" : ".",
				"type" : "TEXT",
				"implicit" : 1
			}
		],
		"autosave" : 0,
		"latency" : 0,
		"is_mpe" : 0,
		"minimum_live_version" : "11.0",
		"minimum_max_version" : "8.1.0",
		"platform_compatibility" : 0,
		"project" : {
			"version" : 1,
			"creationdate" : 3590052786,
			"modificationdate" : 3590052786,
			"viewrect" : [ 0.0, 0.0, 300.0, 500.0 ],
			"autoorganize" : 1,
			"hideprojectwindow" : 1,
			"showdependencies" : 1,
			"autolocalize" : 0,
			"contents" : {
				"patchers" : { },
				"code" : {
					"latentbridge.js" : {
						"kind" : "javascript",
						"local" : 1
					}
				}
			},
			"layout" : { },
			"searchpath" : { },
			"detailsvisible" : 0,
			"amxdtype" : 1835887981,
			"readonly" : 0,
			"devpathtype" : 0,
			"devpath" : ".",
			"sortmode" : 0,
			"viewmode" : 0,
			"includepackages" : 0
		}
	}
}
